-- AlterTable
ALTER TABLE "channel_members" ADD COLUMN     "joined_seq" INTEGER NOT NULL DEFAULT 0;

-- Members from before this column: their read position is the best guess of their join.
UPDATE "channel_members" SET "joined_seq" = "last_read_seq";
