-- Full-text search over message bodies (searchMessages). PostgreSQL computes the column
-- from the body on every insert and edit; English stemming ("meetings" finds "meeting").
-- Written by hand: Prisma models the column as Unsupported("tsvector") with
-- @default(dbgenerated()) and cannot express GENERATED ALWAYS AS itself.
-- AlterTable
ALTER TABLE "messages" ADD COLUMN "search" tsvector
  GENERATED ALWAYS AS (to_tsvector('english', "body")) STORED;

-- CreateIndex
CREATE INDEX "messages_search_idx" ON "messages" USING GIN ("search");
