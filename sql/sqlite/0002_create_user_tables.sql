CREATE TABLE LMSUser (
    LMSUserIdentifier INTEGER NOT NULL CONSTRAINT LMSUser_PK PRIMARY KEY,
    SourceSystemIdentifier TEXT NOT NULL,
    SourceSystem TEXT NOT NULL,
    UserRole TEXT NOT NULL,
    SISUserIdentifier TEXT,
    LocalUserIdentifier TEXT,
    Name TEXT NOT NULL,
    EmailAddress TEXT NOT NULL,
    EdFiStudentId TEXT,
    SourceCreateDate TEXT,
    SourceLastModifiedDate TEXT,
    CreateDate TEXT NOT NULL,
    LastModifiedDate TEXT NOT NULL,
    DeletedAt TEXT,
    CONSTRAINT UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
);
CREATE INDEX IX_LMSUser_EdfiStudentId ON LMSUser (EdFiStudentId) WHERE DeletedAt IS NULL;
