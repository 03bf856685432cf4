"""Audit event names and the detail keys every node uses, so that queries and lineage agree.

Detail keys (all optional, JSON values only, never rows of data):

``job_id``            training / PSI job the event belongs to
``model_id``          the federated model id (shared by the bank's and the platform's parts)
``model_name``        registered model name (bank side)
``model_version``     registered model version, as a string
``subject_party``     the party an event is about when it is not the actor (e.g. the bank a
                      consent was granted to); makes the entry visible to that party
``parties``           list of parties an event concerns (visible to each of them)
``bank_party``        the bank a consent or score concerns (also makes the entry visible to it)
``uscc``              the company concerned (score requests and consent changes only)
``consent_id``        the consent that authorised a score
``outcome``           ``"ok"``, ``"denied"`` or ``"error"`` (score requests)
``dataset_digest``    SHA-256 of a party's dataset; ``categories``: feature categories used
``n_rows``            row count; ``psi_protocol``, ``intersection_size``: PSI summary
``approver``          who approved a promotion; ``alias``: champion / challenger
``dataset``, ``table_version``: a served table's name and version (``table_digest`` is the
                      table as served, ``file_digest`` the file it was read from)
``new_key_pem``, ``new_key_fingerprint``: the next audit key (``audit_key_rotated`` only;
                      see :mod:`models.audit.keychain`); ``reason``: why it was rotated
"""

from __future__ import annotations

SESSION_OPENED = "session_opened"
SESSION_CLOSED = "session_closed"
PSI_RUN = "psi_run"
TRAINING_STARTED = "training_started"
TRAINING_COMPLETED = "training_completed"
TRAINING_FAILED = "training_failed"
TRAINING_RUN_LOGGED = "training_run_logged"
MODEL_REGISTERED = "model_registered"
MODEL_PROMOTED = "model_promoted"
CONSENT_GRANTED = "consent_granted"
CONSENT_REVOKED = "consent_revoked"
SCORE_REQUEST = "score_request"
AUDIT_READ = "audit_read"
DATASET_DESCRIBED = "dataset_described"
MODEL_PART_SAVED = "model_part_saved"
AUDIT_KEY_ROTATED = "audit_key_rotated"
AUDIT_REPAIRED = "audit_repaired"
SERVED_TABLE_ADDED = "served_table_added"
SERVED_TABLE_RETIRED = "served_table_retired"

ALL_EVENTS = (
    SESSION_OPENED,
    SESSION_CLOSED,
    PSI_RUN,
    TRAINING_STARTED,
    TRAINING_COMPLETED,
    TRAINING_FAILED,
    TRAINING_RUN_LOGGED,
    MODEL_REGISTERED,
    MODEL_PROMOTED,
    CONSENT_GRANTED,
    CONSENT_REVOKED,
    SCORE_REQUEST,
    AUDIT_READ,
    DATASET_DESCRIBED,
    MODEL_PART_SAVED,
    AUDIT_KEY_ROTATED,
    AUDIT_REPAIRED,
    SERVED_TABLE_ADDED,
    SERVED_TABLE_RETIRED,
)

OUTCOME_OK = "ok"
OUTCOME_DENIED = "denied"
OUTCOME_ERROR = "error"
#: A scoring request answered only with "send your public key first" (nothing computed); the
#: bank resends it, with the same request id, and that call is the one served.
OUTCOME_KEY_REQUESTED = "key_requested"
