-- DropForeignKey
ALTER TABLE "message_recipients" DROP CONSTRAINT "message_recipients_message_id_fkey";

-- DropForeignKey
ALTER TABLE "message_recipients" DROP CONSTRAINT "message_recipients_user_id_fkey";

-- AlterTable
ALTER TABLE "channel_members" ADD COLUMN     "last_delivered_at" TIMESTAMP(3),
ADD COLUMN     "last_delivered_seq" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "last_read_at" TIMESTAMP(3);

-- Receipts become positions (see schema.prisma, ChannelMember): each member's delivered
-- position is the newest message they had on a device, and both times the newest of their
-- receipts. A delivered position also covers older messages: where a receipt for one of
-- those was missing, it now counts as delivered (clients mark what arrived in order).
UPDATE "channel_members" cm
   SET "last_delivered_seq" = GREATEST(cm."last_read_seq", cm."joined_seq", COALESCE(r.delivered_seq, 0)),
       "last_delivered_at" = r.delivered_at,
       "last_read_at" = r.read_at
  FROM (SELECT m."channel_id", mr."user_id",
               MAX(m."seq") FILTER (WHERE mr."status" IN ('DELIVERED', 'READ')) AS delivered_seq,
               MAX(mr."delivered_at") AS delivered_at,
               MAX(mr."read_at") AS read_at
          FROM "message_recipients" mr
          JOIN "messages" m ON m."id" = mr."message_id"
         GROUP BY m."channel_id", mr."user_id") r
 WHERE cm."channel_id" = r."channel_id" AND cm."user_id" = r."user_id";

UPDATE "channel_members" SET "last_delivered_seq" = GREATEST("last_read_seq", "joined_seq")
 WHERE "last_delivered_seq" < GREATEST("last_read_seq", "joined_seq");

-- DropTable
DROP TABLE "message_recipients";

-- DropEnum
DROP TYPE "DeliveryStatus";

-- CreateIndex
CREATE INDEX "channel_members_channel_id_last_read_seq_idx" ON "channel_members"("channel_id", "last_read_seq");

-- CreateIndex
CREATE INDEX "channel_members_channel_id_last_delivered_seq_idx" ON "channel_members"("channel_id", "last_delivered_seq");
