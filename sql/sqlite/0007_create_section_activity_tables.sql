CREATE TABLE LMSSectionActivity (
    LMSSectionActivityIdentifier INTEGER NOT NULL CONSTRAINT LMSSectionActivity_PK PRIMARY KEY,
    SourceSystemIdentifier TEXT NOT NULL,
    SourceSystem TEXT NOT NULL,
    LMSUserIdentifier INTEGER NOT NULL
        CONSTRAINT FK_LMSSectionActivity_LMSUser REFERENCES LMSUser (LMSUserIdentifier) ON DELETE CASCADE,
    LMSSectionIdentifier INTEGER NOT NULL
        CONSTRAINT FK_LMSSectionActivity_LMSSection REFERENCES LMSSection (LMSSectionIdentifier) ON DELETE CASCADE,
    ActivityType TEXT NOT NULL,
    ActivityDateTime TEXT NOT NULL,
    ActivityStatus TEXT NOT NULL,
    ParentSourceSystemIdentifier TEXT,
    ActivityTimeInMinutes INTEGER,
    SourceCreateDate TEXT,
    SourceLastModifiedDate TEXT,
    DeletedAt TEXT,
    CreateDate TEXT NOT NULL,
    LastModifiedDate TEXT NOT NULL,
    CONSTRAINT LMSSectionActivity_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
);
CREATE INDEX IX_LMSSectionActivity_LMSSection ON LMSSectionActivity (LMSSectionIdentifier);
