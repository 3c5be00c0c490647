-- AlterTable
ALTER TABLE "group_members" ADD COLUMN     "muted_until" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "moderation_actions" ADD COLUMN     "until" TIMESTAMP(3);
