-- Links LMS sections to Ed-Fi sections: lms.LMSSection.EdFiSectionId = edfi.Section.Id, where the
-- section's SIS id is the ODS SectionIdentifier.
--
-- As the users (2002): re-evaluated on every run, corrected and cleared (upstream defect H3). Only
-- SectionIdentifier is compared, as upstream (H4); when the ODS has it in several sections, the latest
-- school year wins, then the lowest SchoolId, course code and session: the same one every run.

CREATE OR REPLACE PROCEDURE lms.harmonize_lmssection_canvas()
LANGUAGE plpgsql AS $$
BEGIN
    CALL lms.lmsagent_harmonize_lmssection('Canvas');
END $$;

CREATE OR REPLACE PROCEDURE lms.harmonize_lmssection_google_classroom()
LANGUAGE plpgsql AS $$
BEGIN
    CALL lms.lmsagent_harmonize_lmssection('Google');
END $$;

CREATE OR REPLACE PROCEDURE lms.harmonize_lmssection_schoology()
LANGUAGE plpgsql AS $$
BEGIN
    CALL lms.lmsagent_harmonize_lmssection('Schoology');
END $$;

-- The three section procedures differ only in the source system. A customisation may replace one
-- of them (upstream's integration point) without touching this one.
CREATE OR REPLACE PROCEDURE lms.lmsagent_harmonize_lmssection(_sourcesystem VARCHAR(255))
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lms.LMSSection AS s SET EdFiSectionId = m.SectionId
    FROM (
        SELECT l.LMSSectionIdentifier, e.Id AS SectionId
        FROM lms.LMSSection l
        LEFT JOIN (
            SELECT DISTINCT ON (x.SectionIdentifier) x.SectionIdentifier, x.Id
            FROM edfi.Section x
            WHERE x.SectionIdentifier IN (
                SELECT y.SISSectionIdentifier FROM lms.LMSSection y WHERE y.SourceSystem = _sourcesystem AND y.DeletedAt IS NULL)
            ORDER BY x.SectionIdentifier, x.SchoolYear DESC, x.SchoolId, x.LocalCourseCode, x.SessionName
        ) AS e ON e.SectionIdentifier = l.SISSectionIdentifier AND l.DeletedAt IS NULL
        WHERE l.SourceSystem = _sourcesystem
    ) AS m
    WHERE s.LMSSectionIdentifier = m.LMSSectionIdentifier AND s.EdFiSectionId IS DISTINCT FROM m.SectionId;
END $$;

INSERT INTO lms.MigrationJournal_Harmonizer (Script) VALUES
    ('0005_harmonize_lmssection_canvas'), ('0006_harmonize_lmssection_google_classroom'), ('0007_harmonize_lmssection_schoology')
ON CONFLICT DO NOTHING;
