-- Whether a recorded file was merged: 1 merged, 0 recorded without being merged (a superseded
-- snapshot), NULL written before this column existed (merged). A later pass must never take a
-- superseded snapshot's record for an applied file.
ALTER TABLE ProcessedFiles ADD COLUMN Applied INTEGER;
