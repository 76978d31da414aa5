-- The review queue as a workflow (issue 14): claims with a lease, the label set, every label
-- and relabel kept, and reviewed examples ("Add to golden dataset").

-- A claim: who holds the item, since when, until when. An expired lease is claimable again.
ALTER TABLE review_items
    ADD COLUMN claimed_by       text,
    ADD COLUMN claimed_at       timestamptz,
    ADD COLUMN lease_expires_at timestamptz,
    ADD CONSTRAINT review_items_claim_whole CHECK (
        (claimed_by IS NULL) = (claimed_at IS NULL)
        AND (claimed_by IS NULL) = (lease_expires_at IS NULL)
    );
-- "Claim next" reads the pending items in priority order.
CREATE INDEX review_items_pending_idx ON review_items ((regression_id IS NULL), score, id)
    WHERE status = 'pending';

-- The label set. 'bad_retrieval' was offered before this migration: it stays valid so that
-- earlier labels keep their meaning, but is no longer offered (vigil.store.review.LABELS).
ALTER TABLE review_items ADD CONSTRAINT review_items_label_known CHECK (
    label IS NULL
    OR label IN ('correct', 'hallucinated', 'irrelevant', 'unsafe', 'other', 'bad_retrieval')
);

-- Every label and relabel of an item, append-only; review_items holds the latest.
CREATE TABLE review_labels (
    id               bigserial PRIMARY KEY,
    item_id          bigint NOT NULL REFERENCES review_items (id) ON DELETE CASCADE,
    label            text NOT NULL CHECK (label IN ('correct', 'hallucinated', 'irrelevant',
                                                     'unsafe', 'other', 'bad_retrieval')),
    note             text,
    corrected_answer text,
    reviewer         text NOT NULL,
    labeled_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX review_labels_item_idx ON review_labels (item_id, labeled_at, id);

-- The labels set before this migration start the history.
INSERT INTO review_labels (item_id, label, note, reviewer, labeled_at)
SELECT id, label, note, reviewer, coalesce(labeled_at, created_at)
FROM review_items WHERE status = 'labeled';

-- The review item's latest corrected answer, beside its latest label and note.
ALTER TABLE review_items ADD COLUMN corrected_answer text;

-- Reviewed examples: a trace a reviewer vouched for, copied whole (question, contexts,
-- reference answer) so that it outlives the trace's retention. One per trace. A later
-- golden-dataset model adopts these rows (dataset 'reviewed').
CREATE TABLE reviewed_examples (
    id               bigserial PRIMARY KEY,
    trace_id         text NOT NULL UNIQUE,
    item_id          bigint REFERENCES review_items (id) ON DELETE SET NULL,
    dataset          text NOT NULL DEFAULT 'reviewed',
    app              text NOT NULL,
    question         text,
    contexts         jsonb NOT NULL DEFAULT '[]'::jsonb,  -- [{document_id, content, rank, score}]
    answer           text NOT NULL,   -- the corrected answer, or the answer labeled correct
    corrected        boolean NOT NULL,  -- answer is the reviewer's correction
    label            text NOT NULL,
    note             text,
    added_by         text NOT NULL,
    added_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviewed_examples_app_idx ON reviewed_examples (app, added_at);
