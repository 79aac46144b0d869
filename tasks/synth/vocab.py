"""Word lists for generated pages, split once and for all into TRAIN and HELDOUT vocabularies.

Contract:
- Every category is one list of words or short phrases written here; ``vocab(split)`` returns the
  part of each category that belongs to ``split``. A word's split is a pure function of its
  lower-cased text (a SHA-256 bit pattern), so the same word can never land in both splits, even
  when it appears in two categories, and the split never changes between runs or machines.
- ``Vocab.all_words()`` is the set a held-out check compares against: no page generated for one
  split uses a word of the other (pages record the words they drew, see ``tasks.synth.pages``).

It holds no numbers, prices, dates or passwords: those are drawn at random by the widgets and are
not vocabulary. Template phrases ("Remember me", "Goal: ...") are layout, not vocabulary.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from functools import cache
from typing import Literal

Split = Literal["train", "heldout"]
SPLITS: tuple[Split, ...] = ("train", "heldout")
# One word in HELDOUT_EVERY goes to the held-out split.
HELDOUT_EVERY = 4


def _w(text: str) -> tuple[str, ...]:
    """One entry per line or comma: phrases keep their spaces."""
    return tuple(dict.fromkeys(p.strip() for p in text.replace("\n", ",").split(",") if p.strip()))


_RAW: dict[str, tuple[str, ...]] = {
    "first_names": _w("""
        Alice, Bruno, Chloe, Dmitri, Elena, Farid, Grace, Hiro, Ines, Jonas, Kavya, Liam, Mona,
        Nadia, Oscar, Priya, Quentin, Rosa, Samir, Tara, Umar, Vera, Wes, Ximena, Yusuf, Zoe,
        Amara, Ben, Carmen, Diego, Emil, Fatima, Gustav, Hana, Ivan, Julia, Kenji, Lena, Marco,
        Nora, Omar, Paula, Rafael, Sofia, Tomas, Uma, Viktor, Wanda, Yara, Zane, Aiko, Bianca,
        Cyrus, Daria, Elif, Felix, Greta, Hugo, Isla, Jamal, Kira, Lucas, Maya, Nils, Olga, Pedro,
        Rhea, Stefan, Thea, Ulla, Vincent, Willa, Xavier, Yosef, Zara, Anton, Beatriz, Caleb
    """),
    "last_names": _w("""
        Abbott, Baker, Castillo, Dubois, Eriksen, Fischer, Garcia, Hansen, Ito, Jensen, Kowalski,
        Lopez, Moreau, Nakamura, Okafor, Petrov, Quinn, Rossi, Schmidt, Tanaka, Ueda, Varga,
        Walsh, Xu, Yilmaz, Zimmer, Alvarez, Bauer, Chen, Dahl, Evans, Ferreira, Gruber, Horvat,
        Iqbal, Jovanovic, Kim, Larsen, Mendes, Novak, Olsen, Patel, Reyes, Silva, Torres, Usman,
        Vogel, Weber, Young, Zhou, Andersen, Brooks, Costa, Diaz, Engel, Fox, Greene, Hill
    """),
    "products": _w("""
        Desk lamp, Notebook, Water bottle, Backpack, Headphones, Coffee mug, Phone case, Keyboard,
        Wireless mouse, Sunglasses, Wall clock, Plant pot, Yoga mat, Travel mug, Bike helmet,
        Pencil set, Tote bag, Rain jacket, Table fan, Desk chair, Monitor stand, Cutting board,
        Tea kettle, Alarm clock, Photo frame, Throw pillow, Picnic blanket, Garden hose,
        Bluetooth speaker, Phone charger, Running shoes, Wool scarf, Ceramic bowl, Chef knife,
        Laptop sleeve, Camping stove, Reading light, Bath towel, Shower curtain, Door mat,
        Pizza stone, Salad spinner, Toaster, Blender, Hand mixer, Rice cooker, Tripod, Web camera,
        Drawing tablet, USB hub, Power bank, Smart watch, Fitness band, Key holder, Umbrella,
        Sketchbook, Fountain pen, Board game, Puzzle box, Candle, Vase, Coat hanger, Lunch box
    """),
    "brands": _w("""
        Northwind, Bluepeak, Lumen, Corvid, Tidewater, Brightline, Ashgrove, Redwood, Quarry,
        Silverleaf, Harbor, Kestrel, Meridian, Oakridge, Pinecone, Riverbend, Stonegate, Summit,
        Trellis, Vantage, Willow, Zephyr, Atlas, Beacon, Cobalt, Driftwood, Ember, Foxglove,
        Granite, Helix, Ironwood, Juniper, Keystone, Larkspur, Maple, Nimbus, Orchid, Polaris,
        Quill, Rosewood, Sparrow, Thistle, Umber, Verdant, Wren, Yarrow
    """),
    "sections": _w("""
        Overview, Billing, Settings, Reports, Profile, Security, Notifications, Team, Projects,
        Invoices, Orders, Customers, Analytics, Integrations, Messages, Calendar, Files, Tasks,
        Payments, Subscriptions, Inventory, Shipping, Returns, Products, Dashboard, Activity,
        Accounts, Documents, Support, Preferences, Members, Usage, History, Archive, Contacts,
        Campaigns, Sales, Budget, Expenses, Payroll, Schedule, Tickets, Releases, Library,
        Downloads, Favorites, Drafts, Templates, Storage, Devices, Logs, Alerts, Roadmap, Events
    """),
    "actions": _w("""
        Save, Download, Export, Share, Delete, Archive, Edit, Duplicate, Print, Refresh, Upload,
        Publish, Preview, Rename, Move, Copy link, Invite, Approve, Reject, Assign, Schedule,
        Import, Sync, Pin, Star, Report, Restore, Merge, Compare, Lock, Unlock, Follow, Mute,
        Attach, Resend, Reset, Verify, Renew, Upgrade, Convert, Close issue, Add note, Tag,
        Forward, Reply, Flag, Sort, Filter, Undo, Redo
    """),
    "submit_labels": _w("""
        Submit, Continue, Send, Confirm, Apply, Register, Done, Finish, Proceed, Update,
        Create, Add, Book now, Place order, Save changes, Subscribe, Request, Join, Go
    """),
    "login_labels": _w("""
        Sign in, Log in, Enter, Access account, Let me in, Start session, Sign on, Authenticate
    """),
    "user_labels": _w("""
        Username, Email, User name, Login, Account name, User ID, Member number, Handle,
        Email address, Customer ID
        Account ID, Member ID, Login name, User handle, Screen name, Login ID, Badge number,
        Employee ID
    """),
    "password_labels": _w(
        """
        Password, Passcode, Pass phrase, Secret word, Access code, Passkey, PIN, Security code,
        Pass code, Secret key, Master password
    """
    ),
    "confirm_labels": _w(
        """
        Confirm password, Repeat password, Re-enter password, Password again, Retype password,
        Confirm passcode, Repeat passcode, Confirm PIN, Repeat the password, Type it again,
        Password (again), Confirm secret word
    """
    ),
    "fields": _w("""
        Full name, First name, Last name, Phone, Company, Street, Zip code, Website,
        Job title, Nickname, Department, Country, Postal code, Mobile, Birthday, Occupation,
        Organization, Middle name, State, Region, Team name, Project name, Reference, Title,
        Coupon code, Card holder, Account number, Display name, Office
    """),
    "options": _w("""
        Newsletter, Dark mode, Notifications, Gift wrap, Two-factor login, Auto update,
        Weekly digest, Public profile, Sound effects, Location access, Product news, Beta features,
        Email alerts, SMS alerts, Order updates, Read receipts, Offline mode, Autoplay,
        Spell check, Compact view, Show avatars, Keyboard shortcuts, High contrast, Large text,
        Sync contacts, Backup photos, Share usage data, Remember device, Price alerts,
        Event reminders, Daily summary, Mentions only, Travel mode, Save history, Guest access,
        Auto archive, Desktop alerts, Quiet hours, Smart replies, Live captions
    """),
    "colors": _w("""
        Red, Blue, Green, Yellow, Purple, Orange, Black, White, Gray, Teal, Navy, Maroon, Olive,
        Coral, Beige, Turquoise, Magenta, Silver, Gold, Ivory, Lime, Cyan, Amber, Mint, Indigo
    """),
    "sizes": _w(
        """
        Small, Medium, Large, Extra large, Tiny, Huge, Regular, Petite, Tall, Wide, Mini, Double,
        Single, Long, Slim
    """
    ),
    "plans": _w(
        """
        Free, Basic, Pro, Team, Business, Enterprise, Starter, Premium, Plus, Ultimate, Solo,
        Family, Student, Scale, Lite, Unlimited
    """
    ),
    "delivery": _w("""
        Standard, Express, Overnight, Store pickup, Economy, Same day, Priority, Locker pickup,
        Courier, Freight
    """),
    "payments": _w("""
        Credit card, Debit card, Bank transfer, Cash, Gift card, Invoice, Voucher, Wallet,
        Direct debit, Check
        PayPal, Mobile pay, Store credit
    """),
    "frequencies": _w(
        """
        Daily, Weekly, Monthly, Yearly, Hourly, Never, Quarterly, Biweekly, Every day,
        Twice a week, Every evening, Once, Annually
    """
    ),
    "cities": _w("""
        Lisbon, Oslo, Nairobi, Lima, Osaka, Denver, Krakow, Austin, Porto, Seville, Bergen,
        Tallinn, Dublin, Geneva, Hanoi, Jaipur, Kyoto, Leeds, Malaga, Nantes, Ottawa, Perth,
        Quebec, Riga, Sapporo, Tbilisi, Utrecht, Valencia, Warsaw, Zagreb, Accra, Bogota, Cairo,
        Dakar, Essen, Florence, Graz, Havana, Izmir, Lyon
    """),
    "statuses": _w("""
        Active, Pending, Paid, Overdue, Shipped, Cancelled, Draft, Closed, Open, Resolved,
        In review, Failed, Approved, Refunded, Delivered, Scheduled, Expired, Blocked
    """),
    "adjectives": _w("""
        quick, quiet, bright, simple, modern, secure, friendly, fast, smart, clean, bold, fresh,
        reliable, flexible, gentle, clever, honest, natural, steady, careful, lively, calm,
        classic, compact, elegant, handy, playful, precise, robust, sturdy, vivid, warm
    """),
    "nouns": _w("""
        team, garden, project, journey, workspace, kitchen, library, studio, market, harbor,
        village, network, planner, journal, toolkit, archive, gallery, season, bridge, meadow,
        compass, lantern, orchard, canvas, engine, ledger, signal, voyage, pantry, summit
    """),
    "verbs": _w("""
        build, plan, track, share, organize, explore, discover, manage, create, design, review,
        measure, connect, improve, launch, collect, compare, protect, schedule, simplify
        grow, write, travel, learn
    """),
}


def split_of(word: str) -> Split:
    """The split a word belongs to, fixed by its text alone."""
    digest = hashlib.sha256(word.strip().lower().encode()).digest()
    return "heldout" if digest[0] % HELDOUT_EVERY == 0 else "train"


@dataclass(frozen=True)
class Vocab:
    """The words of one split, by category (each tuple keeps the order of the lists above)."""

    split: Split
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    products: tuple[str, ...]
    brands: tuple[str, ...]
    sections: tuple[str, ...]
    actions: tuple[str, ...]
    submit_labels: tuple[str, ...]
    login_labels: tuple[str, ...]
    user_labels: tuple[str, ...]
    password_labels: tuple[str, ...]
    confirm_labels: tuple[str, ...]
    fields: tuple[str, ...]
    options: tuple[str, ...]
    colors: tuple[str, ...]
    sizes: tuple[str, ...]
    plans: tuple[str, ...]
    delivery: tuple[str, ...]
    payments: tuple[str, ...]
    frequencies: tuple[str, ...]
    cities: tuple[str, ...]
    statuses: tuple[str, ...]
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]
    verbs: tuple[str, ...]

    def category(self, name: str) -> tuple[str, ...]:
        words = getattr(self, name, None)
        if not isinstance(words, tuple) or name == "split":
            raise KeyError(f"no vocabulary category {name!r}")
        return words

    def categories(self) -> dict[str, tuple[str, ...]]:
        return {f.name: self.category(f.name) for f in fields(self) if f.name != "split"}

    def all_words(self) -> frozenset[str]:
        return frozenset(w for ws in self.categories().values() for w in ws)

    def fingerprint(self) -> str:
        """A short hash of every word in this split, to tell vocabularies apart in manifests."""
        h = hashlib.sha256()
        for name, ws in sorted(self.categories().items()):
            h.update(f"{name}:{'|'.join(ws)}\n".encode())
        return h.hexdigest()[:16]


@cache
def vocab(split: Split) -> Vocab:
    """The vocabulary of ``split`` (cached: the lists are constants)."""
    chosen = {name: tuple(w for w in ws if split_of(w) == split) for name, ws in _RAW.items()}
    return Vocab(split=split, **chosen)
