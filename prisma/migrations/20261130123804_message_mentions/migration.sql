-- Mentions. @channel / @here: a column PostgreSQL computes from the body (edits and
-- deletions keep it right; a deleted message's body is empty). Written by hand: Prisma
-- models it as @default(dbgenerated()) and cannot say GENERATED ALWAYS.
-- AlterTable
ALTER TABLE "messages" ADD COLUMN "mentions_channel" BOOLEAN NOT NULL
  GENERATED ALWAYS AS ("body" ~ '(^|[^[:alnum:]_])@(channel|here)([^[:alnum:]_]|$)') STORED;

-- CreateTable
CREATE TABLE "message_mentions" (
    "message_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "channel_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,

    CONSTRAINT "message_mentions_pkey" PRIMARY KEY ("message_id","user_id")
);

-- CreateIndex
CREATE INDEX "message_mentions_user_id_channel_id_seq_idx" ON "message_mentions"("user_id", "channel_id", "seq");

-- AddForeignKey
ALTER TABLE "message_mentions" ADD CONSTRAINT "message_mentions_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "message_mentions" ADD CONSTRAINT "message_mentions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
