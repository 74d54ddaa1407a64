"""``wegweiser people``: the district's staff and language-mediator database (administrators only:
whoever can run this on the server). Invites are one-time codes, redeemed with /join in Telegram."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from bot.handover.registry import HelperView, InviteSpec, Registry, split_list
from bot.handover.teams import TEAMS_FILE, Teams
from bot.store import Store
from core.config import Settings
from core.errors import ConfigError
from knowledge.topics import load_topics


def _registry(settings: Settings) -> tuple[Registry, Teams]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    topics = set(load_topics())
    teams = Teams.load(settings.teams_file or TEAMS_FILE, topics)
    return Registry(Store(settings.database), teams.timezone, topics, set(teams.teams)), teams


def cmd_invite(args: argparse.Namespace, settings: Settings) -> int:
    registry, _ = _registry(settings)
    spec = InviteSpec(
        role=args.role, languages=tuple(split_list(args.languages)), topics=tuple(split_list(args.topics)) or ("*",),
        team=args.team, alias=args.alias, availability=args.hours or "", max_open=args.max_open,
        max_per_week=args.max_week, gender=args.gender, valid_days=args.days,
    )
    code = registry.invite(spec)
    print(f"Invite for a {args.role} (valid {args.days} days, usable once):\n\n    /join {code}\n\n"
          "Hand it over in person or by phone; the new helper sends it to the bot in a private chat.")
    return 0


def _row(h: HelperView) -> dict[str, Any]:
    return {"id": h.id, "role": h.role, "alias": h.alias, "team": h.team, "languages": list(h.languages),
            "topics": list(h.topics), "hours": h.availability or "any time", "open": f"{h.open_now}/{h.max_open}",
            "week": f"{h.this_week}/{h.max_per_week}", "gender": h.gender, "paused": h.paused,
            "unreachable": h.unreachable}


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    registry, _ = _registry(settings)
    now = datetime.now(UTC)
    helpers = registry.search(role=args.role, language=args.language, available_at=now if args.available else None,
                              now=now)
    rows = [_row(h) for h in helpers]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if not rows:
        print("nobody matches")
        return 0
    for r in rows:
        flags = " ".join(f for f, on in (("paused", r["paused"]), ("unreachable", r["unreachable"])) if on)
        print(f"{r['id']:>4}  {r['role']:<8} {r['alias']:<24} {','.join(r['languages']) or '-':<12} "
              f"team={r['team'] or '-':<18} open={r['open']:<5} week={r['week']:<5} hours={r['hours']} {flags}")
    return 0


def _change(settings: Settings, helper_id: int, action: str) -> int:
    registry, _ = _registry(settings)
    done = registry.remove(helper_id) if action == "remove" else registry.set_paused(helper_id, action == "pause")
    if not done:
        raise ConfigError(f"no helper with id {helper_id}")
    print({"pause": "paused: gets no new requests", "resume": "active again",
           "remove": "removed: Telegram identity forgotten; open conversations go to staff"}[action])
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from bot.handover.service import HandoverService
    from translations.ui import ui_catalog

    _, teams = _registry(settings)
    service = HandoverService(Store(settings.database, migrate=False), teams, ui_catalog())
    for at, actor, action, label, detail in service.audit(args.conversation):
        print(f"{at:%Y-%m-%d %H:%M:%S}  {label or '-':<7} {actor:<12} {action:<20} {detail or ''}")
    return 0


def register(sub: Any) -> None:
    people = sub.add_parser("people", help="staff and language mediators: invite, list, pause, remove, audit")
    people_sub = people.add_subparsers(dest="people_command", required=True)
    inv = people_sub.add_parser("invite", help="create a one-time invite code")
    inv.add_argument("--role", choices=("mediator", "staff"), required=True)
    inv.add_argument("--languages", default="", help="mediators: codes they speak, e.g. ar,fa,prs")
    inv.add_argument("--topics", default="*", help="topic ids they may take (default: all)")
    inv.add_argument("--team", help="staff: foreigners_office, social_services, health_office …")
    inv.add_argument("--alias", help="the pseudonym people see (default: 'Sprachmittlung NN' / 'Team NN')")
    inv.add_argument("--hours", help="weekly availability, e.g. 'mo-fr 09:00-17:00; sa 10:00-12:00' (default: any)")
    inv.add_argument("--max-open", type=int, default=2, help="open conversations at once (default 2)")
    inv.add_argument("--max-week", type=int, default=5, help="conversations per week (default 5)")
    inv.add_argument("--gender", choices=("f", "m", "d"), help="optional: for people who ask for a woman")
    inv.add_argument("--days", type=int, default=7, help="the code expires after this many days (default 7)")
    inv.set_defaults(func=cmd_invite)
    ls = people_sub.add_parser("list", help="search the helpers by role, language and availability")
    ls.add_argument("--role", choices=("mediator", "staff"))
    ls.add_argument("--language", help="who speaks this language")
    ls.add_argument("--available", action="store_true", help="only those available right now and not paused")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    for action, text in (("pause", "no new requests for this helper"), ("resume", "end a pause"),
                         ("remove", "forget the helper's Telegram identity (the audit log keeps the id)")):
        p = people_sub.add_parser(action, help=text)
        p.add_argument("id", type=int)
        p.set_defaults(func=lambda a, s, act=action: _change(s, a.id, act))
    audit = people_sub.add_parser("audit", help="who saw or acted on which conversation")
    audit.add_argument("--conversation", help="a label such as '#K7QF2'")
    audit.set_defaults(func=cmd_audit)
