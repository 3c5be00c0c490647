-- Each change records the id of the transaction that wrote it. A replica's poll reads the
-- changes of every transaction its previous poll's snapshot could not see (still running
-- then, or started since): a change is seen however late its transaction commits, and
-- never twice. (Polls read the last 30 s instead: a burst of more changes than a poll
-- takes made every replica re-read all its streams' access state at every poll for as
-- long as the burst stayed in that window, issue 10.)
-- AlterTable
ALTER TABLE "access_changes" ADD COLUMN     "xid" xid8 NOT NULL DEFAULT pg_current_xact_id();

-- CreateIndex
CREATE INDEX "access_changes_xid_idx" ON "access_changes"("xid");
