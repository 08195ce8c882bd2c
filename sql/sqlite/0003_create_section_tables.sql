CREATE TABLE LMSSection (
    LMSSectionIdentifier INTEGER NOT NULL CONSTRAINT LMSSection_PK PRIMARY KEY,
    SourceSystemIdentifier TEXT NOT NULL,
    SourceSystem TEXT NOT NULL,
    SISSectionIdentifier TEXT,
    Title TEXT NOT NULL,
    SectionDescription TEXT,
    Term TEXT,
    LMSSectionStatus TEXT,
    EdFiSectionId TEXT,
    SourceCreateDate TEXT,
    SourceLastModifiedDate TEXT,
    CreateDate TEXT NOT NULL,
    LastModifiedDate TEXT NOT NULL,
    DeletedAt TEXT,
    CONSTRAINT LMSSection_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
);
CREATE INDEX IX_LMSSection_EdfiSectionId ON LMSSection (EdFiSectionId) WHERE DeletedAt IS NULL;
