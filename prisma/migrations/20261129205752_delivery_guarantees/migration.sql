-- CreateTable
CREATE TABLE "outbox_events" (
    "id" BIGSERIAL NOT NULL,
    "shard" INTEGER NOT NULL,
    "routing_key" TEXT NOT NULL,
    "event" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "refused_commands" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "channel_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "client_message_id" TEXT,
    "reason" TEXT NOT NULL,
    "command" JSONB NOT NULL,
    "refused_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "refused_commands_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "outbox_events_shard_id_idx" ON "outbox_events"("shard", "id");

-- CreateIndex
CREATE INDEX "refused_commands_user_id_client_message_id_idx" ON "refused_commands"("user_id", "client_message_id");
