CREATE TABLE lms.LMSSection (
    LMSSectionIdentifier INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    SISSectionIdentifier VARCHAR(255) NULL,
    Title VARCHAR(255) NOT NULL,
    SectionDescription VARCHAR(1024) NULL,
    Term VARCHAR(60) NULL,
    LMSSectionStatus VARCHAR(60) NULL,
    EdFiSectionId UUID NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    DeletedAt TIMESTAMP NULL,
    CONSTRAINT LMSSection_PK PRIMARY KEY (LMSSectionIdentifier),
    CONSTRAINT LMSSection_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
);
CREATE INDEX IX_LMSSection_EdfiSectionId ON lms.LMSSection (EdFiSectionId) WHERE DeletedAt IS NOT NULL;

CREATE TABLE lms.stg_LMSSection (
    StagingId INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    SISSectionIdentifier VARCHAR(255) NULL,
    Title VARCHAR(255) NOT NULL,
    SectionDescription VARCHAR(1024) NULL,
    Term VARCHAR(60) NULL,
    LMSSectionStatus VARCHAR(60) NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL,
    LastModifiedDate TIMESTAMP NOT NULL,
    CONSTRAINT stg_LMSSection_PK PRIMARY KEY (StagingId)
);
CREATE INDEX IX_stg_LMSSection_Natural_Key ON lms.stg_LMSSection (SourceSystemIdentifier, SourceSystem, LastModifiedDate);
