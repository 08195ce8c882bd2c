-- Copies the assignments of one LMS into lmsx.Assignment (the LMSX extension of the Ed-Fi ODS).
-- Upstream's name and parameters: CALL lms.harmonize_assignment(_sourcesystem => 'Canvas',
-- _namespace => 'uri://instructure.com/canvas').
--
-- An assignment is copied when it and its section are live, its section is linked to an ODS section
-- (2003), its LMS has a source-system descriptor and its category an assignment-category descriptor.
-- Differences from upstream, each an upstream defect (spec/harmonizer.md section 11):
-- * H5: an lmsx row is this LMS's by (AssignmentIdentifier, Namespace), never by identifier alone, so
--   equal ids from two LMSs do not touch each other's rows.
-- * H6: a row is updated when a value differs (section columns included), not by comparing the LMS's
--   LastModifiedDate (the extractor's clock) with lmsx's (the database's).
-- * H7 and stale rows: an lmsx row of this namespace that no live assignment backs any more (soft-
--   deleted assignment or section, section no longer linked, descriptor removed) is deleted, with
--   its submissions.
-- * H13: descriptor code values and namespaces are compared without regard to case, as on SQL Server;
--   where two descriptors differ only in case, the exact spelling wins, then the lower DescriptorId.
-- * H15: no CREATE EXTENSION per call (2001 makes sure gen_random_uuid exists, once).
-- * H17: the source-system descriptor is the one with namespace uri://ed-fi.org/edfilms/LMSSourceSystem
--   and the LMS's name as code value, registered in lmsx.LMSSourceSystemDescriptor; upstream takes
--   every descriptor of any namespace with that code value, and two of them fail the insert.
-- * Every new row gets its own Id (a real ODS has a unique index on lmsx.Assignment.Id).
CREATE OR REPLACE PROCEDURE lms.harmonize_assignment(_sourcesystem VARCHAR(255), _namespace VARCHAR(255))
LANGUAGE plpgsql AS $$
DECLARE
    _sourcesystemdescriptorid INT;
BEGIN
    SELECT d.DescriptorId INTO _sourcesystemdescriptorid
    FROM edfi.Descriptor d
    JOIN lmsx.LMSSourceSystemDescriptor x ON x.LMSSourceSystemDescriptorId = d.DescriptorId
    WHERE lower(d.Namespace) = 'uri://ed-fi.org/edfilms/lmssourcesystem' AND lower(d.CodeValue) = lower(_sourcesystem)
    ORDER BY (d.CodeValue = _sourcesystem) DESC, d.DescriptorId
    LIMIT 1;

    -- The live assignments this LMS's lmsx rows must match.
    DROP TABLE IF EXISTS pg_temp.lmsagent_assignment;
    CREATE TEMPORARY TABLE lmsagent_assignment ON COMMIT DROP AS
    SELECT a.SourceSystemIdentifier AS AssignmentIdentifier, a.Title, c.DescriptorId AS AssignmentCategoryDescriptorId,
           a.AssignmentDescription, a.StartDateTime, a.EndDateTime, a.DueDateTime, a.MaxPoints,
           e.SectionIdentifier, e.LocalCourseCode, e.SessionName, e.SchoolYear, e.SchoolId
    FROM lms.Assignment a
    JOIN lms.LMSSection s ON s.LMSSectionIdentifier = a.LMSSectionIdentifier AND s.DeletedAt IS NULL
    JOIN edfi.Section e ON e.Id = s.EdFiSectionId
    JOIN (
        SELECT DISTINCT ON (v.AssignmentCategory) v.AssignmentCategory, d.DescriptorId
        FROM (SELECT DISTINCT AssignmentCategory FROM lms.Assignment WHERE SourceSystem = _sourcesystem) v
        JOIN edfi.Descriptor d ON lower(d.CodeValue) = lower(v.AssignmentCategory)
            AND lower(d.Namespace) = lower('uri://ed-fi.org/edfilms/AssignmentCategoryDescriptor/' || _sourcesystem)
        JOIN lmsx.AssignmentCategoryDescriptor x ON x.AssignmentCategoryDescriptorId = d.DescriptorId
        ORDER BY v.AssignmentCategory, (d.CodeValue = v.AssignmentCategory) DESC, d.DescriptorId
    ) c ON c.AssignmentCategory = a.AssignmentCategory
    WHERE a.SourceSystem = _sourcesystem AND a.DeletedAt IS NULL AND _sourcesystemdescriptorid IS NOT NULL;
    CREATE INDEX ON lmsagent_assignment (AssignmentIdentifier);
    ANALYZE lmsagent_assignment;

    -- Stale rows first, their submissions before them (the extension's foreign key).
    DELETE FROM lmsx.AssignmentSubmission xs
    WHERE xs.Namespace = _namespace
      AND NOT EXISTS (SELECT 1 FROM lmsagent_assignment c WHERE c.AssignmentIdentifier = xs.AssignmentIdentifier);
    DELETE FROM lmsx.Assignment x
    WHERE x.Namespace = _namespace
      AND NOT EXISTS (SELECT 1 FROM lmsagent_assignment c WHERE c.AssignmentIdentifier = x.AssignmentIdentifier);

    UPDATE lmsx.Assignment AS x SET
        LMSSourceSystemDescriptorId = _sourcesystemdescriptorid, Title = c.Title,
        AssignmentCategoryDescriptorId = c.AssignmentCategoryDescriptorId, AssignmentDescription = c.AssignmentDescription,
        StartDateTime = c.StartDateTime, EndDateTime = c.EndDateTime, DueDateTime = c.DueDateTime, MaxPoints = c.MaxPoints,
        SectionIdentifier = c.SectionIdentifier, LocalCourseCode = c.LocalCourseCode, SessionName = c.SessionName,
        SchoolYear = c.SchoolYear, SchoolId = c.SchoolId, LastModifiedDate = now()
    FROM lmsagent_assignment c
    WHERE x.Namespace = _namespace AND x.AssignmentIdentifier = c.AssignmentIdentifier
      AND (x.LMSSourceSystemDescriptorId IS DISTINCT FROM _sourcesystemdescriptorid OR x.Title IS DISTINCT FROM c.Title
           OR x.AssignmentCategoryDescriptorId IS DISTINCT FROM c.AssignmentCategoryDescriptorId
           OR x.AssignmentDescription IS DISTINCT FROM c.AssignmentDescription OR x.StartDateTime IS DISTINCT FROM c.StartDateTime
           OR x.EndDateTime IS DISTINCT FROM c.EndDateTime OR x.DueDateTime IS DISTINCT FROM c.DueDateTime
           OR x.MaxPoints IS DISTINCT FROM c.MaxPoints OR x.SectionIdentifier IS DISTINCT FROM c.SectionIdentifier
           OR x.LocalCourseCode IS DISTINCT FROM c.LocalCourseCode OR x.SessionName IS DISTINCT FROM c.SessionName
           OR x.SchoolYear IS DISTINCT FROM c.SchoolYear OR x.SchoolId IS DISTINCT FROM c.SchoolId);

    -- gen_random_uuid() is volatile: one new Id per row.
    INSERT INTO lmsx.Assignment (AssignmentIdentifier, Namespace, LMSSourceSystemDescriptorId, Title, AssignmentCategoryDescriptorId,
        AssignmentDescription, StartDateTime, EndDateTime, DueDateTime, MaxPoints, SectionIdentifier, LocalCourseCode, SessionName,
        SchoolYear, SchoolId, Id)
    SELECT c.AssignmentIdentifier, _namespace, _sourcesystemdescriptorid, c.Title, c.AssignmentCategoryDescriptorId,
        c.AssignmentDescription, c.StartDateTime, c.EndDateTime, c.DueDateTime, c.MaxPoints, c.SectionIdentifier, c.LocalCourseCode,
        c.SessionName, c.SchoolYear, c.SchoolId, gen_random_uuid()
    FROM lmsagent_assignment c
    WHERE NOT EXISTS (SELECT 1 FROM lmsx.Assignment x WHERE x.AssignmentIdentifier = c.AssignmentIdentifier AND x.Namespace = _namespace);

    DROP TABLE lmsagent_assignment;
END $$;

INSERT INTO lms.MigrationJournal_Harmonizer (Script) VALUES ('0010_harmonize_assignment') ON CONFLICT DO NOTHING;
