-- Files already merged into this LMS-DS. Upstream's columns, plus the content checksum that lets
-- lms-agent tell a rewritten file from one it has already applied.
CREATE TABLE ProcessedFiles (
    FullPath TEXT NOT NULL CONSTRAINT ProcessedFiles_PK PRIMARY KEY,
    ResourceName TEXT NOT NULL,
    NumberOfRows INTEGER NOT NULL,
    UploadDateTime TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    Checksum TEXT
);
