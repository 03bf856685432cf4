"""ECDH-PSI over ristretto255 between the bank (active) and the platform (passive).

- :mod:`.active`: :class:`PsiActive` (drives the run) and :class:`PsiResult`.
- :mod:`.passive`: :class:`PsiPassive`, the platform's half (registered as ``"psi"``).
- :mod:`.alignment`: the agreed row order the platform stores for later jobs.
- :mod:`.group`: batched ristretto255 operations through libsodium.
- :mod:`.ids`: validation and de-duplication of the input sets.
- Unbalanced PSI and the protocol choice: :mod:`.choose` (size-ratio rule),
  :mod:`.unbalanced_active` (:class:`PsiAutoActive`), :mod:`.unbalanced_passive`
  (:class:`PsiAutoPassive`, registered as ``"psi-auto"``), :mod:`.oprf_store` (the platform's
  OPRF key and caches), :mod:`.tagset` (the compressed cache of truncated tags).

Protocol, leakage and security argument: ``docs/psi.md``.
"""

from models.psi.active import PsiActive, PsiResult, psi_session_spec
from models.psi.alignment import alignment_digest, load_alignment, save_alignment
from models.psi.ids import PreparedIds, prepare_ids
from models.psi.passive import PsiPassive, id_validator_for
from models.psi.unbalanced_active import AutoPsiResult, PsiAutoActive, psi_auto_session_spec
from models.psi.unbalanced_passive import PsiAutoPassive

__all__ = [
    "AutoPsiResult",
    "PreparedIds",
    "PsiActive",
    "PsiAutoActive",
    "PsiAutoPassive",
    "PsiPassive",
    "PsiResult",
    "alignment_digest",
    "id_validator_for",
    "load_alignment",
    "prepare_ids",
    "psi_auto_session_spec",
    "psi_session_spec",
    "save_alignment",
]
