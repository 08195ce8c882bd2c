CREATE TABLE LMSSystemActivity (
    LMSSystemActivityIdentifier INTEGER NOT NULL CONSTRAINT LMSSystemActivity_PK PRIMARY KEY,
    SourceSystemIdentifier TEXT NOT NULL,
    SourceSystem TEXT NOT NULL,
    LMSUserIdentifier INTEGER NOT NULL
        CONSTRAINT FK_LMSSystemActivity_LMSUser REFERENCES LMSUser (LMSUserIdentifier) ON DELETE CASCADE,
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
    CONSTRAINT LMSSystemActivity_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
);
