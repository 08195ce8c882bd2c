CREATE TABLE lms.LMSUser (
    LMSUserIdentifier INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    UserRole VARCHAR(60) NOT NULL,
    SISUserIdentifier VARCHAR(255) NULL,
    LocalUserIdentifier VARCHAR(255) NULL,
    Name VARCHAR(255) NOT NULL,
    EmailAddress VARCHAR(255) NOT NULL,
    EdFiStudentId UUID NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    DeletedAt TIMESTAMP NULL,
    CONSTRAINT LMSUser_PK PRIMARY KEY (LMSUserIdentifier),
    CONSTRAINT UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
);
CREATE INDEX IX_LMSUser_EdfiStudentId ON lms.LMSUser (EdFiStudentId) WHERE DeletedAt IS NOT NULL;

CREATE TABLE lms.stg_LMSUser (
    StagingId INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    UserRole VARCHAR(60) NOT NULL,
    SISUserIdentifier VARCHAR(255) NULL,
    LocalUserIdentifier VARCHAR(255) NULL,
    Name VARCHAR(255) NOT NULL,
    EmailAddress VARCHAR(255) NOT NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL,
    LastModifiedDate TIMESTAMP NOT NULL,
    EdFiStudentId UUID NULL,
    CONSTRAINT stg_LMSUser_PK PRIMARY KEY (StagingId)
);
CREATE INDEX IX_stg_LMSUser_Natural_Key ON lms.stg_LMSUser (SourceSystemIdentifier, SourceSystem, LastModifiedDate);
