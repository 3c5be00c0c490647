-- AlterTable
ALTER TABLE "channel_members" ADD COLUMN     "muted_until" TIMESTAMP(3);
