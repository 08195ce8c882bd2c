CREATE TABLE LMSUserLMSSectionAssociation (
    LMSUserLMSSectionAssociationIdentifier INTEGER NOT NULL CONSTRAINT LMSUserLMSSectionAssociation_PK PRIMARY KEY,
    LMSSectionIdentifier INTEGER NOT NULL
        CONSTRAINT FK_LMSUserLMSSectionAssociation_LMSSection REFERENCES LMSSection (LMSSectionIdentifier) ON DELETE CASCADE,
    LMSUserIdentifier INTEGER NOT NULL
        CONSTRAINT FK_LMSUserLMSSectionAssociation_LMSUser REFERENCES LMSUser (LMSUserIdentifier) ON DELETE CASCADE,
    SourceSystemIdentifier TEXT NOT NULL,
    SourceSystem TEXT NOT NULL,
    EnrollmentStatus TEXT NOT NULL,
    SourceCreateDate TEXT,
    SourceLastModifiedDate TEXT,
    CreateDate TEXT NOT NULL,
    LastModifiedDate TEXT NOT NULL,
    DeletedAt TEXT,
    CONSTRAINT LMSUserLMSSectionAssociation_DF_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
);
CREATE INDEX IX_LMSUserLMSSectionAssociation_Section_User ON LMSUserLMSSectionAssociation (LMSSectionIdentifier, LMSUserIdentifier);
