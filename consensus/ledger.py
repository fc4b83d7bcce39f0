"""Integer ledger rules: balances, stake, minting, recycling and the epoch payout, with one invariant.

The chain node keeps a ``Ledger`` in memory and applies a block's transactions to a layered view of it with the
functions below (any ``MutableMapping`` works for the three maps), then persists what changed in one SQLite
transaction; every function here either applies in full or raises ``LedgerError`` having changed nothing (each
validates everything first, then mutates).

Dust: an account exists only while its free balance is positive; the chain passes an ``existential_deposit``, and
then no operation may leave an account or a stake entry holding less than it (only exactly 0, which removes it),
so creating an account or a stake entry always costs at least the deposit and storage cannot be filled for free.

All amounts are Python ints of base units (1 token = 10^9 units); floats never touch the ledger. The invariant
(``Ledger.check_invariant``) holds after every operation, exactly:

    minted - recycled == issuance == sum(balances) + sum(stakes) + pending <= SUPPLY_CAP, nothing negative.

Payout divisions floor to whole units and the dust stays in ``pending`` (paid in a later epoch), which is what
keeps the second equality exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from consensus.emission import SUPPLY_CAP, block_reward, mint_amount
from consensus.units import U16_MAX

DEFAULT_OWNER_CUT_U16 = 11_796
"""Subnet owner cut as a u16 proportion (11_796 / 65_535, about 18%), the chain's ``SubnetOwnerCut``."""
DEFAULT_DELEGATE_TAKE_U16 = 11_796
"""A validator hotkey owner's take of its dividends (about 18%), the chain's default delegate take."""


class LedgerError(Exception):
    """A refused operation. ``reason`` is a stable code for the wire; the message says what to do."""

    reason = "ledger_error"


class InvalidAmount(LedgerError):
    reason = "invalid_amount"


class InvalidAddress(LedgerError):
    reason = "invalid_address"


class UnknownAccount(LedgerError):
    reason = "unknown_account"


class InsufficientBalance(LedgerError):
    reason = "insufficient_balance"


class InsufficientStake(LedgerError):
    reason = "insufficient_stake"


class SupplyCapExceeded(LedgerError):
    reason = "supply_cap_exceeded"


class HotkeyOwnedElsewhere(LedgerError):
    reason = "hotkey_owned_elsewhere"


class InvalidShares(LedgerError):
    reason = "invalid_shares"


class BelowExistentialDeposit(LedgerError):
    reason = "below_existential_deposit"


class InvariantViolation(RuntimeError):
    """The ledger's books do not balance: a bug, never a user error (so deliberately not a ``LedgerError``)."""


@dataclass
class Ledger:
    """The ledger state. Accounts (``balances`` keys) and stake entries are removed when they reach 0."""

    balances: dict[str, int] = field(default_factory=dict)  # coldkey -> free units
    stakes: dict[tuple[str, str], int] = field(default_factory=dict)  # (coldkey, hotkey) -> staked units (> 0)
    hotkey_owner: dict[str, str] = field(default_factory=dict)  # hotkey -> owning coldkey (receives the take)
    pending: int = 0  # minted, not yet paid out: the emission pool plus payout dust
    issuance: int = 0  # minted - recycled: all units in existence
    recycled: int = 0  # cumulative units recycled (registration burns)
    minted: int = 0  # cumulative units minted, genesis credits included
    # hotkey -> total stake on it (derived from ``stakes``, kept up to date by every function below, so a hotkey's
    # stake costs one lookup whatever the number of stake entries); built from ``stakes`` when not given.
    stake_totals: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if self.stake_totals is None:
            self.rebuild_stake_totals()

    def rebuild_stake_totals(self) -> None:
        totals: dict[str, int] = {}
        for (_, hotkey), amount in self.stakes.items():
            totals[hotkey] = totals.get(hotkey, 0) + amount
        self.stake_totals = totals

    def copy(self) -> Ledger:
        """An independent copy (keys and values are immutable, so copying the dicts suffices)."""
        return Ledger(
            balances=dict(self.balances),
            stakes=dict(self.stakes),
            hotkey_owner=dict(self.hotkey_owner),
            pending=self.pending,
            issuance=self.issuance,
            recycled=self.recycled,
            minted=self.minted,
            stake_totals=dict(self.stake_totals),
        )

    def balance(self, coldkey: str) -> int:
        return self.balances.get(coldkey, 0)

    def stake(self, coldkey: str, hotkey: str) -> int:
        return self.stakes.get((coldkey, hotkey), 0)

    def hotkey_stake(self, hotkey: str) -> int:
        """Total stake on ``hotkey`` from all coldkeys."""
        return self.stake_totals.get(hotkey, 0)

    def set_stake(self, coldkey: str, hotkey: str, amount: int) -> None:
        """Set one stake entry (removed at 0) and the hotkey's total with it: the only way stakes change."""
        old = self.stakes.get((coldkey, hotkey), 0)
        _set_or_remove(self.stakes, (coldkey, hotkey), amount)
        _set_or_remove(self.stake_totals, hotkey, self.stake_totals.get(hotkey, 0) + amount - old)

    def check_invariant(self) -> None:
        """Raise ``InvariantViolation`` unless the books balance exactly and every value is a non-negative int."""
        scalars = {"pending": self.pending, "issuance": self.issuance, "recycled": self.recycled, "minted": self.minted}
        values = [
            *scalars.items(),
            *(("balance of " + k, v) for k, v in self.balances.items()),
            *((f"stake {k}", v) for k, v in self.stakes.items()),
        ]
        for name, value in values:
            if type(value) is not int or value < 0:
                raise InvariantViolation(f"{name} is {value!r}, not a non-negative int")
        if self.minted - self.recycled != self.issuance:
            raise InvariantViolation(f"minted {self.minted} - recycled {self.recycled} != issuance {self.issuance}")
        held = sum(self.balances.values()) + sum(self.stakes.values()) + self.pending
        if held != self.issuance:
            raise InvariantViolation(f"balances + stakes + pending = {held} != issuance {self.issuance}")
        if self.issuance > SUPPLY_CAP:
            raise InvariantViolation(f"issuance {self.issuance} exceeds the cap {SUPPLY_CAP}")
        for coldkey, value in self.balances.items():
            if value == 0:
                raise InvariantViolation(f"empty account {coldkey} should have been removed")
        for (coldkey, hotkey), value in self.stakes.items():
            if value == 0:
                raise InvariantViolation(f"zero stake entry ({coldkey}, {hotkey}) should have been removed")
            if hotkey not in self.hotkey_owner:
                raise InvariantViolation(f"stake on hotkey {hotkey} which has no owner")
        totals: dict[str, int] = {}
        for (_, hotkey), value in self.stakes.items():
            totals[hotkey] = totals.get(hotkey, 0) + value
        if totals != dict(self.stake_totals.items()):
            raise InvariantViolation("the per-hotkey stake totals do not match the stake entries")


    def check_changes(self, before: Ledger, balance_keys: Iterable[str],
                      stake_keys: Iterable[tuple[str, str]]) -> None:
        """``check_invariant`` in time proportional to a block's writes: ``before`` satisfied the invariant and
        only the named balances and stake entries (and the scalars) differ. Raises ``InvariantViolation``."""
        delta = self.pending - before.pending
        for key in balance_keys:
            value = self.balances.get(key, 0)
            if type(value) is not int or value < 0 or (key in self.balances and value == 0):
                raise InvariantViolation(f"balance of {key} is {value!r}, not a positive int (or removed)")
            delta += value - before.balances.get(key, 0)
        for key in stake_keys:
            value = self.stakes.get(key, 0)
            if type(value) is not int or value < 0 or (key in self.stakes and value == 0):
                raise InvariantViolation(f"stake {key} is {value!r}, not a positive int (or removed)")
            if value and key[1] not in self.hotkey_owner:
                raise InvariantViolation(f"stake on hotkey {key[1]} which has no owner")
            delta += value - before.stakes.get(key, 0)
        for name in ("pending", "issuance", "recycled", "minted"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise InvariantViolation(f"{name} is {value!r}, not a non-negative int")
        if self.minted - self.recycled != self.issuance:
            raise InvariantViolation(f"minted {self.minted} - recycled {self.recycled} != issuance {self.issuance}")
        if delta != self.issuance - before.issuance:
            raise InvariantViolation(f"balances + stakes + pending moved by {delta}, issuance by "
                                     f"{self.issuance - before.issuance}")
        if self.issuance > SUPPLY_CAP:
            raise InvariantViolation(f"issuance {self.issuance} exceeds the cap {SUPPLY_CAP}")


# --- validation helpers -------------------------------------------------------------------------------------


def _amount(amount: object, what: str = "amount") -> int:
    if type(amount) is not int:  # rejects bool, float, numpy ints, Decimal...
        raise InvalidAmount(
            f"{what} must be a Python int of base units (1 token = 10^9 units), "
            f"got {type(amount).__name__} {amount!r}; convert with int() after rounding"
        )
    if amount <= 0:
        raise InvalidAmount(f"{what} must be positive, got {amount}")
    return amount


def _address(address: object, what: str) -> str:
    if type(address) is not str or not address:
        raise InvalidAddress(f"{what} must be a non-empty address string, got {address!r}")
    return address


def _known_coldkey(ledger: Ledger, coldkey: object) -> str:
    coldkey = _address(coldkey, "coldkey")
    if coldkey not in ledger.balances:
        raise UnknownAccount(f"coldkey {coldkey} has no account; fund it first with a transfer")
    return coldkey


def _remaining(held: int, amount: int, existential_deposit: int, what: str) -> int:
    """What is left of ``held`` after taking ``amount``: 0, or at least the existential deposit."""
    left = held - amount
    if 0 < left < existential_deposit:
        raise BelowExistentialDeposit(f"this would leave {left} units in {what}, below the existential deposit of "
                                      f"{existential_deposit}: move all of it, or leave at least the deposit")
    return left


def _grown(held: int, amount: int, existential_deposit: int, what: str) -> int:
    total = held + amount
    if total < existential_deposit:
        raise BelowExistentialDeposit(f"{what} would hold {total} units, below the existential deposit of "
                                      f"{existential_deposit}: send at least that much")
    return total


def _set_or_remove(mapping, key, value: int) -> None:
    if value:
        mapping[key] = value
    else:
        mapping.pop(key, None)


def _owner_of(ledger: Ledger, hotkey: object) -> str:
    hotkey = _address(hotkey, "hotkey")
    owner = ledger.hotkey_owner.get(hotkey)
    if owner is None:
        raise UnknownAccount(f"hotkey {hotkey} has no owning coldkey; register it first")
    return owner


# --- transactions -------------------------------------------------------------------------------------------


def genesis_credit(ledger: Ledger, coldkey: str, amount: int) -> None:
    """Mint ``amount`` straight into ``coldkey``'s free balance (genesis allocations); counts as minted."""
    coldkey = _address(coldkey, "coldkey")
    amount = _amount(amount)
    if ledger.issuance + amount > SUPPLY_CAP:
        raise SupplyCapExceeded(
            f"crediting {amount} would raise issuance to {ledger.issuance + amount}, above "
            f"the cap {SUPPLY_CAP}; credit at most {SUPPLY_CAP - ledger.issuance}"
        )
    ledger.balances[coldkey] = ledger.balances.get(coldkey, 0) + amount
    ledger.minted += amount
    ledger.issuance += amount


def associate_hotkey(ledger: Ledger, coldkey: str, hotkey: str) -> None:
    """Record ``coldkey`` as the owner of ``hotkey`` (done at registration). Ownership is permanent: repeating it
    with the same coldkey is a no-op, claiming another coldkey's hotkey is refused."""
    coldkey = _address(coldkey, "coldkey")
    hotkey = _address(hotkey, "hotkey")
    owner = ledger.hotkey_owner.get(hotkey)
    if owner is not None and owner != coldkey:
        raise HotkeyOwnedElsewhere(f"hotkey {hotkey} is owned by coldkey {owner}; use a new hotkey")
    ledger.hotkey_owner[hotkey] = coldkey


def transfer(ledger: Ledger, src: str, dst: str, amount: int, *, existential_deposit: int = 0) -> None:
    """Move free balance from ``src`` to ``dst`` (which is created if new)."""
    src = _known_coldkey(ledger, src)
    dst = _address(dst, "destination coldkey")
    amount = _amount(amount)
    if ledger.balances[src] < amount:
        raise InsufficientBalance(f"coldkey {src} has {ledger.balances[src]} units free, cannot send {amount}")
    if src == dst:
        return
    left = _remaining(ledger.balances[src], amount, existential_deposit, "the sending account")
    grown = _grown(ledger.balances.get(dst, 0), amount, existential_deposit, "the destination account")
    _set_or_remove(ledger.balances, src, left)
    ledger.balances[dst] = grown


def add_stake(ledger: Ledger, coldkey: str, hotkey: str, amount: int, *, existential_deposit: int = 0) -> None:
    """Move ``amount`` of ``coldkey``'s free balance into its stake on ``hotkey`` (any owned hotkey: delegation)."""
    coldkey = _known_coldkey(ledger, coldkey)
    _owner_of(ledger, hotkey)
    amount = _amount(amount)
    if ledger.balances[coldkey] < amount:
        raise InsufficientBalance(f"coldkey {coldkey} has {ledger.balances[coldkey]} units free, cannot stake {amount}")
    left = _remaining(ledger.balances[coldkey], amount, existential_deposit, "the staking account")
    staked = _grown(ledger.stakes.get((coldkey, hotkey), 0), amount, existential_deposit, "the stake entry")
    _set_or_remove(ledger.balances, coldkey, left)
    ledger.set_stake(coldkey, hotkey, staked)


def remove_stake(ledger: Ledger, coldkey: str, hotkey: str, amount: int, *, existential_deposit: int = 0) -> None:
    """Move ``amount`` of ``coldkey``'s stake on ``hotkey`` back to its free balance."""
    coldkey = _address(coldkey, "coldkey")
    hotkey = _address(hotkey, "hotkey")
    amount = _amount(amount)
    staked = ledger.stakes.get((coldkey, hotkey), 0)
    if staked < amount:
        raise InsufficientStake(
            f"coldkey {coldkey} has {staked} units staked on hotkey {hotkey}, cannot unstake {amount}"
        )
    left = _remaining(staked, amount, existential_deposit, "the stake entry")
    free = _grown(ledger.balances.get(coldkey, 0), amount, existential_deposit, "the coldkey's account")
    ledger.set_stake(coldkey, hotkey, left)
    ledger.balances[coldkey] = free


def recycle(ledger: Ledger, coldkey: str, amount: int, *, existential_deposit: int = 0) -> None:
    """Destroy ``amount`` of ``coldkey``'s free balance (registration burns). Lowers issuance, which delays
    halvings, unlike a plain burn."""
    coldkey = _known_coldkey(ledger, coldkey)
    amount = _amount(amount)
    if ledger.balances[coldkey] < amount:
        raise InsufficientBalance(f"coldkey {coldkey} has {ledger.balances[coldkey]} units free, cannot pay {amount}")
    left = _remaining(ledger.balances[coldkey], amount, existential_deposit, "the paying account")
    _set_or_remove(ledger.balances, coldkey, left)
    ledger.issuance -= amount
    ledger.recycled += amount


def pay_fee(ledger: Ledger, payer: str, fee: int, *, existential_deposit: int = 0) -> int:
    """Recycle a transaction fee from ``payer``'s free balance; return the units taken.

    What would be left below the existential deposit is taken too (the account is reaped), so paying fees never
    leaves dust. Raises ``InsufficientBalance`` (changing nothing) when the balance does not cover the fee.
    """
    if fee == 0:
        return 0
    balance = ledger.balance(payer)
    if balance < fee:
        raise InsufficientBalance(f"{payer} has {balance} units free, the fee is {fee}")
    taken = balance if balance - fee < existential_deposit else fee
    if taken:
        recycle(ledger, payer, taken)
    return taken


def mint_block(ledger: Ledger) -> int:
    """Mint this block's reward (for the current issuance, clamped to the cap) into ``pending``; return it."""
    amount = mint_amount(ledger.issuance, block_reward(ledger.issuance))
    ledger.pending += amount
    ledger.issuance += amount
    ledger.minted += amount
    return amount


# --- epoch payout -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payout:
    """What one ``epoch_payout`` paid. ``pool == owner_cut + sum(miner_paid) + sum(validator_paid) + remainder``
    and ``sum(credits) == pool - remainder``."""

    pool: int  # pending at the start of the payout
    owner_cut: int  # staked to the owner hotkey
    miner_paid: dict[str, int]  # hotkey -> incentive paid (every hotkey in miner_shares, 0 included)
    validator_paid: dict[str, int]  # hotkey -> dividends paid: its take plus what its stakers received
    delegate_take: dict[str, int]  # hotkey -> the part of validator_paid that went to its owner as take
    credits: dict[tuple[str, str], int]  # (coldkey, hotkey) -> total stake added, owner cut included
    remainder: int  # left in pending: undistributable halves and rounding dust

    def emission(self, hotkey: str) -> int:
        """Incentive plus dividends paid to ``hotkey`` this epoch (the owner cut excluded), as the chain stores."""
        return self.miner_paid.get(hotkey, 0) + self.validator_paid.get(hotkey, 0)


def _shares(shares: Mapping[str, int], what: str) -> dict[str, int]:
    if not isinstance(shares, Mapping):
        raise InvalidShares(f"{what} must be a mapping hotkey -> non-negative int, got {type(shares).__name__}")
    for hotkey, share in shares.items():
        _address(hotkey, f"hotkey in {what}")
        if type(share) is not int or share < 0:
            raise InvalidShares(
                f"{what}[{hotkey}] must be a non-negative Python int (e.g. the u16 proportion), got {share!r}"
            )
    return dict(shares)


def _u16(value: object, what: str) -> int:
    if type(value) is not int or not 0 <= value <= U16_MAX:
        raise InvalidShares(f"{what} must be an int in [0, {U16_MAX}] (a u16 proportion), got {value!r}")
    return value


def epoch_payout(
    ledger: Ledger,
    *,
    owner_hotkey: str,
    miner_shares: Mapping[str, int],
    validator_shares: Mapping[str, int],
    owner_cut_u16: int = DEFAULT_OWNER_CUT_U16,
    delegate_take_u16: int = DEFAULT_DELEGATE_TAKE_U16,
) -> Payout:
    """Pay out the whole ``pending`` pool at an epoch, as stake; return what went where.

    1. Owner cut ``pool * owner_cut_u16 // 65535`` is staked to ``owner_hotkey`` under its owning coldkey.
    2. The rest is halved (each half floored): miners' half by ``miner_shares`` (incentive), validators' half
       by ``validator_shares`` (dividends). If every miner share is 0, validators also get the miners' half.
       If every validator share is 0, the validators' half stays in ``pending`` for a later epoch.
    3. A miner's payment is staked to its hotkey under the hotkey's owner coldkey.
    4. A validator's payment: the hotkey owner first takes ``pay * delegate_take_u16 // 65535``; the rest is split
       among all coldkeys staking to the hotkey in proportion to their stake (owner included), using stakes as
       they stood before this payout, so the order of hotkeys never matters. With no stake on the hotkey, all
       of it goes to the owner.

    Every division floors and every leftover unit stays in ``pending``. Shares are non-negative ints (the chain
    passes u16 incentive/dividend proportions); any scale works, only ratios matter. Every hotkey named must have
    an owner. On any error nothing changes.
    """
    owner_coldkey = _owner_of(ledger, owner_hotkey)
    miners = _shares(miner_shares, "miner_shares")
    validators = _shares(validator_shares, "validator_shares")
    owner_cut_u16 = _u16(owner_cut_u16, "owner_cut_u16")
    delegate_take_u16 = _u16(delegate_take_u16, "delegate_take_u16")
    owners = {hk: _owner_of(ledger, hk) for hk in (*miners, *validators)}

    pool = ledger.pending
    owner_cut = pool * owner_cut_u16 // U16_MAX
    half = (pool - owner_cut) // 2
    miner_total, validator_total = sum(miners.values()), sum(validators.values())
    miner_pool, validator_pool = half, half
    if miner_total == 0:
        miner_pool, validator_pool = 0, 2 * half
    if validator_total == 0:
        validator_pool = 0

    credits: dict[tuple[str, str], int] = {}

    def credit(coldkey: str, hotkey: str, amount: int) -> None:
        if amount:
            credits[(coldkey, hotkey)] = credits.get((coldkey, hotkey), 0) + amount

    credit(owner_coldkey, owner_hotkey, owner_cut)

    miner_paid = {}
    for hotkey, share in miners.items():
        pay = miner_pool * share // miner_total if miner_total else 0
        miner_paid[hotkey] = pay
        credit(owners[hotkey], hotkey, pay)

    validator_paid, delegate_take = {}, {}
    stakers: dict[str, list[tuple[str, int]]] = {hk: [] for hk in validators}
    for (coldkey, hotkey), staked in ledger.stakes.items():  # snapshot before any credit is applied
        if hotkey in stakers:
            stakers[hotkey].append((coldkey, staked))
    for hotkey, share in validators.items():
        pay = validator_pool * share // validator_total if validator_total else 0
        take = pay * delegate_take_u16 // U16_MAX
        credit(owners[hotkey], hotkey, take)
        rest, paid = pay - take, take
        total_stake = sum(s for _, s in stakers[hotkey])
        if total_stake == 0:
            credit(owners[hotkey], hotkey, rest)
            paid += rest
        else:
            for coldkey, staked in stakers[hotkey]:
                part = rest * staked // total_stake
                credit(coldkey, hotkey, part)
                paid += part
        validator_paid[hotkey] = paid
        delegate_take[hotkey] = take

    total_credit = sum(credits.values())
    for key, amount in credits.items():
        ledger.set_stake(*key, ledger.stakes.get(key, 0) + amount)
    ledger.pending -= total_credit
    return Payout(
        pool=pool,
        owner_cut=owner_cut,
        miner_paid=miner_paid,
        validator_paid=validator_paid,
        delegate_take=delegate_take,
        credits=credits,
        remainder=ledger.pending,
    )
