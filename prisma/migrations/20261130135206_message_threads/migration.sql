-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "reply_to_id" UUID,
ADD COLUMN     "thread_last_reply_at" TIMESTAMP(3),
ADD COLUMN     "thread_reply_count" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "thread_root_id" UUID;

-- CreateTable
CREATE TABLE "thread_readers" (
    "root_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "last_read_seq" INTEGER NOT NULL,

    CONSTRAINT "thread_readers_pkey" PRIMARY KEY ("root_id","user_id")
);

-- CreateIndex
CREATE INDEX "thread_readers_user_id_idx" ON "thread_readers"("user_id");

-- CreateIndex
CREATE INDEX "messages_thread_root_id_seq_idx" ON "messages"("thread_root_id", "seq");

-- AddForeignKey
ALTER TABLE "thread_readers" ADD CONSTRAINT "thread_readers_root_id_fkey" FOREIGN KEY ("root_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "thread_readers" ADD CONSTRAINT "thread_readers_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
