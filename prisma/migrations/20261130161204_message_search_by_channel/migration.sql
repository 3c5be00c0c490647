-- searchMessages looks only in the viewer's channels. With the body's tsvector alone in the
-- GIN index, a query read every channel's matches (or walked every channel's newest
-- messages) and threw the others away: a viewer in 10 of 2,000 channels waited 345 ms for
-- "release notes" over a million messages. One GIN index over (channel_id, search) finds the
-- matches of those channels only (21 ms), and still serves a search by words alone as well
-- as the old index did (a multicolumn GIN index is as good on any one of its columns), so
-- it replaces it. The first part by hand: Prisma does not write extensions.
-- btree_gin (GIN operator classes for plain types such as uuid) ships with PostgreSQL's
-- contrib modules and is a trusted extension: the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- DropIndex
DROP INDEX "messages_search_idx";

-- CreateIndex
CREATE INDEX "messages_channel_id_search_idx" ON "messages" USING GIN ("channel_id" uuid_ops, "search");
