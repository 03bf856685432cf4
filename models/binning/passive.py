"""The platform's half of federated binning and WOE/IV (``algorithm = "binning"``).

The platform bins its own features on the training rows (cut points stay private), sums the
bank's encrypted labels per bin (encrypted event counts, packed and rerandomised) next to the
plain row counts, and finally stores the WOE transform of the features the bank selected.
State (cut points, training digest, WOE tables, the DP record) is persisted under
``context.state_dir``.

Differential privacy (``BinInitRequest.dp_epsilon > 0``, :mod:`models.binning.dp`): the platform
checks the proposed epsilon against its range, adds discrete Laplace noise to the counts before
they leave it, releases counts once per job, charges the epsilon to the bank in its ledger
(:mod:`models.binning.ledger`) and records what it applied. Node settings (context extras):
``binning_dp_epsilon_range`` (floor, ceiling), ``binning_dp_required`` (refuse exact counts),
``binning_dp_budget`` (total epsilon per bank across jobs); tests may set ``binning_dp_rng``
(a :class:`~models.binning.dp.RandomSource`), a node never does (default: the OS CSPRNG).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from models.binning.binner import FeatureBinner
from models.binning.dp import (
    MECHANISM,
    NOISE_BITS,
    DpRecord,
    RandomSource,
    SystemRandomSource,
    check_epsilon,
    epsilon_range,
    sample_discrete_laplace,
)
from models.binning.ledger import DpLedger
from models.binning.messages import (
    BinCountsRequest,
    BinCountsResponse,
    BinInitRequest,
    BinInitResponse,
    BinWoeRequest,
    BinWoeResponse,
)
from models.binning.transform import WoeTransform, by_index, split_concatenated
from models.crypto.histogram import compress_ciphertexts, encrypted_histograms
from models.crypto.packing import KEY_MARGIN_BITS
from models.crypto.paillier import EncryptedVector, PaillierPublicKey
from models.dataset import PartyTable
from models.errors import FailedPrecondition, InvalidArgument
from models.federation.party import PassiveContext, PassiveParty, handles, register_party
from models.federation.passive_env import TRUE_FLAGS, names_allowed, session_table
from models.logreg.encoding import min_count_for
from models.logreg.model_io import check_model_id, ids_digest, read_json, write_json_atomic

BIN_STATE_FILE = "binning_state.json"
METHODS = ("quantile", "equal_width", "optimal")


@register_party
class BinningPassive(PassiveParty):
    """Platform side: private binning, encrypted per-bin event counts, WOE transform."""

    algorithm = "binning"

    def __init__(self, context: PassiveContext) -> None:
        super().__init__(context)
        self._bin_table: PartyTable | None = None
        self._bin_workers: int | None = context.extras.get("workers")
        self.bin_model_id = ""
        self.bin_public_key: PaillierPublicKey | None = None
        self.binner: FeatureBinner | None = None
        self.bin_train = np.zeros(0, dtype=np.int64)
        self.bin_codes = np.zeros((0, 0), dtype=np.int64)
        self.woe_transform: WoeTransform | None = None
        self.bin_dp: DpRecord | None = None
        self.bin_released = False
        self._bin_restore()

    # ------------------------------------------------------------------ helpers
    def bin_table(self) -> PartyTable:
        if self._bin_table is None:
            self._bin_table = session_table(self.context)
        return self._bin_table

    def _bin_state_path(self) -> Path:
        return Path(self.context.state_dir) / BIN_STATE_FILE

    def _bin_persist(self, digest: str) -> None:
        assert self.binner is not None
        write_json_atomic(
            self._bin_state_path(),
            {
                "version": 1,
                "model_id": self.bin_model_id,
                "train_digest": digest,
                "binner": self.binner.to_dict(),
                "woe": None if self.woe_transform is None else self.woe_transform.to_dict(),
                "dp": None if self.bin_dp is None else self.bin_dp.to_dict(),
                "released": self.bin_released,
            },
        )

    def _bin_restore(self) -> None:
        """Reload a persisted WOE transform (the session resumed after a restart)."""
        path = self._bin_state_path()
        if path.exists():
            st = read_json(path)
            if st.get("woe"):
                self.woe_transform = WoeTransform.from_dict(st["woe"])
            self.bin_model_id = str(st.get("model_id", ""))
            if st.get("dp"):
                self.bin_dp = DpRecord.from_dict(st["dp"])
            self.bin_released = bool(st.get("released", False))

    @staticmethod
    def _train_digest(train: np.ndarray) -> str:
        return hashlib.sha256(np.sort(train).astype(np.int64).tobytes()).hexdigest()

    # ------------------------------------------------------------------ steps
    @handles
    def bin_init(self, request: BinInitRequest) -> BinInitResponse:
        """Fit the platform's bins on the training rows.

        Reveals to bank: see :class:`BinInitResponse`.
        """
        check_model_id(request.model_id)
        table = self.bin_table()
        if request.n_rows != table.n_rows or request.ids_digest != ids_digest(table.ids):
            raise FailedPrecondition("the platform's rows are not aligned with the bank's")
        train = np.asarray(request.train_rows, dtype=np.int64).reshape(-1)
        if train.size == 0 or train.min() < 0 or train.max() >= table.n_rows:
            raise InvalidArgument("training rows are out of range")
        if np.unique(train).size != train.size:
            raise InvalidArgument("training rows repeat")
        if request.method not in METHODS:
            raise InvalidArgument("unknown binning method")
        if self.bin_released and self.bin_dp is not None:
            raise FailedPrecondition(
                "differentially private counts were already released for this job; "
                "a new release needs a new job"
            )
        dp = self._dp_policy(float(request.dp_epsilon), table.n_features)
        unsupervised = "quantile" if request.method == "optimal" else request.method
        cats = by_index(table.feature_names, table.categories)
        binner = FeatureBinner(unsupervised, int(request.n_bins)).fit(
            table.X[train], cats, min_count_for(int(request.min_category_count), train.size)
        )
        self.bin_public_key = PaillierPublicKey.from_bytes(request.public_key)
        self.binner = binner
        self.bin_train = train
        self.bin_codes = binner.transform(table.X, cats)
        self.bin_model_id = request.model_id
        self.bin_dp = dp
        self.bin_released = False
        self._bin_persist(self._train_digest(train))
        allow = names_allowed(self.context, table)
        return BinInitResponse(
            n_features=table.n_features,
            n_bins=[int(v) for v in binner.n_total_bins],
            feature_names=list(table.feature_names) if allow else [],
            feature_groups=list(table.feature_groups),
            categorical=[binner.is_categorical(j) for j in range(table.n_features)],
        )

    @handles
    def bin_counts(self, request: BinCountsRequest) -> BinCountsResponse:
        """Encrypted event counts and plain row counts per feature and bin.

        Reveals to bank: see :class:`BinCountsResponse`.
        """
        if self.binner is None or self.bin_public_key is None:
            raise FailedPrecondition("binning was not initialised")
        pk = self.bin_public_key
        enc = EncryptedVector.from_wire(request.enc_labels, pk)
        n_train = self.bin_train.size
        if len(enc) != n_train:
            raise InvalidArgument("one encrypted label per training row is required")
        dp = self.bin_dp
        if dp is not None:
            if self.bin_released:
                raise FailedPrecondition(
                    "differentially private counts were already released for this job"
                )
            self._dp_charge(dp)
        nb = self.binner.n_total_bins
        codes = self.bin_codes[self.bin_train]
        hists = encrypted_histograms(enc, codes, np.arange(n_train), nb, workers=self._bin_workers)
        totals = np.concatenate(
            [np.bincount(codes[:, j], minlength=int(nb[j])) for j in range(codes.shape[1])]
        ).astype(np.int64)
        values = EncryptedVector.concat(hists)
        offset = 0
        if dp is None:
            slot_bits = max(2, n_train.bit_length() + 1)
        else:
            # noisy events e + Z_e + 2^NOISE_BITS lie in [0, 2^(NOISE_BITS+2)) for |Z_e| <
            # 2^NOISE_BITS and n_train < 2^NOISE_BITS; totals get Z_e + Z_g in the clear
            if n_train >= 1 << NOISE_BITS:
                raise InvalidArgument("too many training rows for the noisy count slots")
            offset = 1 << NOISE_BITS
            slot_bits = NOISE_BITS + 2
            rng = self._dp_rng()
            scale = check_epsilon(dp.epsilon, dp.n_features, *epsilon_range(self.context.extras))
            z_events = sample_discrete_laplace(scale, len(values), rng)
            z_nonevents = sample_discrete_laplace(scale, len(values), rng)
            values = values.add_plain([int(z) + offset for z in z_events])
            totals = totals + z_events + z_nonevents
            self.bin_released = True
            self._bin_persist(self._train_digest(self.bin_train))
        per_ct = max(1, (pk.key_bits - KEY_MARGIN_BITS) // slot_bits)
        packed = pk.rerandomize(compress_ciphertexts(pk, values, slot_bits, per_ct))
        return BinCountsResponse(
            totals=totals,
            enc_events=packed.to_wire(),
            slot_bits=slot_bits,
            slots_per_ciphertext=per_ct,
            n_values=len(values),
            dp_epsilon=0.0 if dp is None else dp.epsilon,
            dp_mechanism="" if dp is None else MECHANISM,
            event_offset=offset,
        )

    @handles
    def bin_woe(self, request: BinWoeRequest) -> BinWoeResponse:
        """Store the WOE transform of the selected platform features.

        Reveals to bank: see :class:`BinWoeResponse`.
        """
        if self.binner is None:
            raise FailedPrecondition("binning was not initialised")
        features = [int(f) for f in request.features]
        if len(set(features)) != len(features):
            raise InvalidArgument("a feature is selected twice")
        nvb = self.binner.n_value_bins
        if any(not 0 <= f < nvb.size for f in features):
            raise InvalidArgument("feature index is out of range")
        mappings = split_concatenated(
            np.asarray(request.mappings, dtype=np.int64), [int(nvb[f]) for f in features]
        )
        sizes = [(int(m.max()) + 2) if m.size else 1 for m in mappings]
        woe = split_concatenated(np.asarray(request.woe, dtype=np.float64), sizes)
        self.woe_transform = WoeTransform(self.binner, features, mappings, woe)
        self._bin_persist(self._train_digest(self.bin_train))
        return BinWoeResponse(features=features, n_bins=self.woe_transform.n_bins())

    # ------------------------------------------------------------------ differential privacy
    def _dp_policy(self, epsilon: float, n_features: int) -> DpRecord | None:
        """The DP the platform will apply for a proposed ``epsilon`` (0: exact counts)."""
        extras = self.context.extras
        if epsilon == 0.0:
            if str(extras.get("binning_dp_required", "")).lower() in TRUE_FLAGS:
                raise FailedPrecondition(
                    "the platform releases binning counts only with dp_epsilon"
                )
            return None
        check_epsilon(epsilon, n_features, *epsilon_range(extras))
        budget = extras.get("binning_dp_budget")
        if budget is not None and self._dp_ledger().spent(self.context.caller.party) + epsilon > (
            float(budget) * (1 + 1e-12)
        ):
            raise FailedPrecondition(
                "this release would exceed the bank's differential-privacy budget"
            )
        return DpRecord(epsilon=epsilon, n_features=n_features)

    def _dp_ledger(self) -> DpLedger:
        return DpLedger(Path(self.context.state_dir).parent.parent / "privacy")

    def _dp_rng(self) -> RandomSource:
        rng = self.context.extras.get("binning_dp_rng")
        return rng if rng is not None else SystemRandomSource()

    def _dp_charge(self, dp: DpRecord) -> None:
        budget = self.context.extras.get("binning_dp_budget")
        self._dp_ledger().charge(
            self.context.caller.party,
            self.context.spec.job_id,
            dp.epsilon,
            None if budget is None else float(budget),
        )

    def binning_privacy(self) -> dict[str, Any] | None:
        """What the platform applied to its count release (None: exact counts)."""
        return None if self.bin_dp is None else self.bin_dp.to_dict()

    def binning_part(self) -> dict[str, Any]:
        """The platform's WOE transform for its model part (cut points included: it stays
        on the platform)."""
        if self.woe_transform is None:
            raise FailedPrecondition("no WOE transform was set")
        return self.woe_transform.to_dict()
