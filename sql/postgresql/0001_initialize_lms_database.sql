-- The lms schema and its migration journal. Object names are unquoted, so PostgreSQL folds them to
-- lower case (lms.migrationjournal), as the upstream loader expects.
-- Not CREATE SCHEMA IF NOT EXISTS, which needs CREATE on the database even when the schema exists:
-- an account that owns a schema lms an administrator made may run these scripts without it.
DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'lms') THEN CREATE SCHEMA lms; END IF; END $$;

CREATE TABLE IF NOT EXISTS lms.MigrationJournal (
    Script VARCHAR(250) NOT NULL,
    InstallDate TIMESTAMP NOT NULL DEFAULT now(),
    CONSTRAINT PK_MigrationJournal PRIMARY KEY (Script)
);
