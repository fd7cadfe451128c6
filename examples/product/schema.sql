-- Acme's database, as it was before keygate: people who sign in, organisations with
-- members and roles, the projects its API serves, and the developer tokens its API checks.
-- keygate changes none of it; its own tables live in their own schema (KEYGATE_DATABASE_SCHEMA).

CREATE TABLE IF NOT EXISTS people (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text NOT NULL UNIQUE,
  display_name  text NOT NULL,
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS organisations (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS memberships (
  person_id uuid NOT NULL REFERENCES people(id),
  org_id    uuid NOT NULL REFERENCES organisations(id),
  role      text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  PRIMARY KEY (person_id, org_id)
);

CREATE TABLE IF NOT EXISTS projects (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id     uuid NOT NULL REFERENCES organisations(id),
  name       text NOT NULL,
  status     text NOT NULL DEFAULT 'active',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS developer_tokens (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id       uuid NOT NULL REFERENCES organisations(id),
  created_by   uuid NOT NULL REFERENCES people(id),
  label        text NOT NULL,
  token_digest text NOT NULL UNIQUE, -- SHA-256 of the token, hex
  permissions  text[] NOT NULL,      -- projects:read, projects:write
  revoked      boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX IF NOT EXISTS developer_tokens_org ON developer_tokens (org_id);
