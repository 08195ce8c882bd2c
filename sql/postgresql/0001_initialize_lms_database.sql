-- The lms schema and its migration journal. Object names are unquoted, so PostgreSQL folds them to
-- lower case (lms.migrationjournal), as the upstream loader expects.
CREATE SCHEMA IF NOT EXISTS lms;

CREATE TABLE IF NOT EXISTS lms.MigrationJournal (
    Script VARCHAR(250) NOT NULL,
    InstallDate TIMESTAMP NOT NULL DEFAULT now(),
    CONSTRAINT PK_MigrationJournal PRIMARY KEY (Script)
);
