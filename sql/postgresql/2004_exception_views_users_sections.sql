-- What the user and section procedures could not link: live LMS rows without an ODS match.
-- Upstream's names and columns, in upstream's order, so CREATE OR REPLACE upgrades the upstream views.
-- As upstream, every role is listed (teachers are never students: defect H12, kept).

CREATE OR REPLACE VIEW lmsx.exceptions_LMSSection AS
SELECT s.LMSSectionIdentifier, s.SourceSystemIdentifier, s.SourceSystem, s.SISSectionIdentifier
FROM lms.LMSSection s
WHERE s.EdFiSectionId IS NULL AND s.DeletedAt IS NULL;

CREATE OR REPLACE VIEW lmsx.exceptions_LMSUser AS
SELECT u.LMSUserIdentifier, u.SourceSystemIdentifier, u.SourceSystem, u.SISUserIdentifier, u.LocalUserIdentifier, u.UserRole
FROM lms.LMSUser u
WHERE u.EdFiStudentId IS NULL AND u.DeletedAt IS NULL;

INSERT INTO lms.MigrationJournal_Harmonizer (Script) VALUES
    ('0008_view_exceptions_lmssection'), ('0009_view_exceptions_lmsuser')
ON CONFLICT DO NOTHING;
