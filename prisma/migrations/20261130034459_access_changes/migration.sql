-- CreateTable
CREATE TABLE "access_changes" (
    "id" BIGSERIAL NOT NULL,
    "channel_id" UUID,
    "user_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "access_changes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "access_changes_created_at_idx" ON "access_changes"("created_at");

-- Triggers (not expressible in schema.prisma): every membership change and every contact
-- or block change is appended, whoever writes it.
CREATE FUNCTION record_membership_change() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO "access_changes" ("channel_id", "user_id") VALUES (NEW."channel_id", NEW."user_id");
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    INSERT INTO "access_changes" ("channel_id", "user_id") VALUES (OLD."channel_id", OLD."user_id");
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

-- Only a change of membership matters, not of read positions (updated on every send).
CREATE TRIGGER "channel_members_access_change"
  AFTER INSERT OR DELETE OR UPDATE OF "channel_id", "user_id" ON "channel_members"
  FOR EACH ROW EXECUTE FUNCTION record_membership_change();

-- Contacts decide presence visibility, blocks also direct conversations: both users of
-- any contact change are recorded.
CREATE FUNCTION record_contact_change() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO "access_changes" ("user_id") VALUES (NEW."owner_id"), (NEW."contact_id");
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    INSERT INTO "access_changes" ("user_id") VALUES (OLD."owner_id"), (OLD."contact_id");
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER "contacts_access_change"
  AFTER INSERT OR DELETE OR UPDATE OF "blocked", "owner_id", "contact_id" ON "contacts"
  FOR EACH ROW EXECUTE FUNCTION record_contact_change();
