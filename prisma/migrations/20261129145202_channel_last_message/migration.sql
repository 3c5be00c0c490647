-- AlterTable
ALTER TABLE "channels" ADD COLUMN     "last_message_id" UUID;

-- CreateIndex
CREATE UNIQUE INDEX "channels_last_message_id_key" ON "channels"("last_message_id");

-- AddForeignKey
ALTER TABLE "channels" ADD CONSTRAINT "channels_last_message_id_fkey" FOREIGN KEY ("last_message_id") REFERENCES "messages"("id") ON DELETE SET NULL ON UPDATE CASCADE;
