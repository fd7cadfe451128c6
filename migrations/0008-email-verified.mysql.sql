-- Migration 0008 (MySQL 8 / MariaDB): whether a person's email address is known to be verified (1) or
-- not (0): by the identity provider's email_verified claim, the product's assertion or
-- provisioning call, or the operator's trust setting for the provider. Linking a sign-in to
-- an existing person by email requires it, and keygate's ID tokens carry it. Rows from
-- before are not known to be verified. docs/storage.md.

ALTER TABLE users ADD COLUMN email_verified TINYINT NOT NULL DEFAULT 0;
