-- Links LMS users to Ed-Fi students: lms.LMSUser.EdFiStudentId = edfi.Student.Id.
--
-- Unlike upstream (defect H3), every run re-evaluates every user of the source system: a mapping
-- follows a changed SIS id or e-mail, a student removed from the ODS, and is cleared when the LMS
-- user is soft-deleted (a restored user is matched again). Only rows whose mapping changes are written.
-- As upstream, UserRole is not looked at.

-- Canvas and Schoology: the user's SIS id is the student's StudentUniqueId (unique in the ODS).
CREATE OR REPLACE PROCEDURE lms.harmonize_lmsuser_canvas()
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lms.LMSUser AS u SET EdFiStudentId = m.StudentId
    FROM (
        SELECT l.LMSUserIdentifier, st.Id AS StudentId
        FROM lms.LMSUser l
        LEFT JOIN edfi.Student st ON st.StudentUniqueId = l.SISUserIdentifier AND l.DeletedAt IS NULL
        WHERE l.SourceSystem = 'Canvas'
    ) AS m
    WHERE u.LMSUserIdentifier = m.LMSUserIdentifier AND u.EdFiStudentId IS DISTINCT FROM m.StudentId;
END $$;

CREATE OR REPLACE PROCEDURE lms.harmonize_lmsuser_schoology()
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lms.LMSUser AS u SET EdFiStudentId = m.StudentId
    FROM (
        SELECT l.LMSUserIdentifier, st.Id AS StudentId
        FROM lms.LMSUser l
        LEFT JOIN edfi.Student st ON st.StudentUniqueId = l.SISUserIdentifier AND l.DeletedAt IS NULL
        WHERE l.SourceSystem = 'Schoology'
    ) AS m
    WHERE u.LMSUserIdentifier = m.LMSUserIdentifier AND u.EdFiStudentId IS DISTINCT FROM m.StudentId;
END $$;

-- Google Classroom: the user's e-mail is one of the student's ODS e-mails, compared without regard
-- to case (e-mail domains are case-insensitive; upstream compares exactly on PostgreSQL). Only Google
-- users (as upstream on PostgreSQL; upstream's SQL Server procedure maps every LMS, defect H1). An
-- address two students share goes to the lower StudentUSI, every time (upstream: an arbitrary one).
CREATE OR REPLACE PROCEDURE lms.harmonize_lmsuser_google_classroom()
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lms.LMSUser AS u SET EdFiStudentId = m.StudentId
    FROM (
        SELECT l.LMSUserIdentifier, mail.StudentId
        FROM lms.LMSUser l
        LEFT JOIN (
            SELECT DISTINCT ON (lower(e.ElectronicMailAddress)) lower(e.ElectronicMailAddress) AS Address, st.Id AS StudentId
            FROM edfi.StudentEducationOrganizationAssociationElectronicMail e
            JOIN edfi.Student st ON st.StudentUSI = e.StudentUSI
            WHERE lower(e.ElectronicMailAddress) IN (
                SELECT lower(g.EmailAddress) FROM lms.LMSUser g WHERE g.SourceSystem = 'Google' AND g.DeletedAt IS NULL)
            ORDER BY lower(e.ElectronicMailAddress), st.StudentUSI
        ) AS mail ON mail.Address = lower(l.EmailAddress) AND l.DeletedAt IS NULL
        WHERE l.SourceSystem = 'Google'
    ) AS m
    WHERE u.LMSUserIdentifier = m.LMSUserIdentifier AND u.EdFiStudentId IS DISTINCT FROM m.StudentId;
END $$;

INSERT INTO lms.MigrationJournal_Harmonizer (Script) VALUES
    ('0002_harmonize_lmsuser_canvas'), ('0003_harmonize_lmsuser_schoology'), ('0004_harmonize_lmsuser_google-classroom')
ON CONFLICT DO NOTHING;
