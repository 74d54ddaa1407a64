"""``wegweiser``: ask, chat, evaluate, calibrate, validate the knowledge, build the index."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

# Offline by default: nothing may reach for a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from cli import people as people_cli
from core.config import Settings
from core.errors import WegweiserError

log = logging.getLogger("wegweiser")


def _engine(settings: Settings, progress: bool = True) -> Any:
    from retrieval.engine import AnswerEngine

    return AnswerEngine.build(settings, progress=progress and sys.stderr.isatty())


def _print_result(result: Any, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        return
    out.write(f"[{result.status}] topic={result.topic} entry={result.entry_id} score={result.score:.3f} "
              f"lang={result.lang} answer_lang={result.answer_lang}\n")
    if result.answer:
        out.write(result.answer + "\n")
    if result.status == "clarify":
        for c in result.candidates:
            out.write(f"  - {c.topic} ({c.score:.3f})\n")
    if result.facts_as_of:
        label = "" if result.answer_reviewed else " · translation not yet reviewed"
        out.write(f"(as of {result.facts_as_of}{label}; source: {result.sources[0]['url']})\n")


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    out = sys.stdout
    if args.batch:
        if not args.json:
            raise WegweiserError("--batch writes JSON lines; add --json")
        source = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
        with source:
            for n, line in enumerate(source, start=1):
                if not line.strip():
                    out.write(json.dumps({"line": n, "status": "error", "error": "empty line"}) + "\n")
                    continue
                try:
                    raw = json.loads(line)
                    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
                        raise ValueError('expected an object with a "text" string')
                    lang = raw.get("lang")
                    if lang is not None and not isinstance(lang, str):
                        raise ValueError('"lang" must be a string')
                    result = engine.ask(raw["text"], lang=lang or args.lang)
                except (ValueError, WegweiserError) as e:
                    out.write(json.dumps({"line": n, "status": "error", "error": str(e)}, ensure_ascii=False) + "\n")
                    continue
                payload = result.to_dict()
                payload["line"] = n
                out.write(json.dumps(payload, ensure_ascii=False) + "\n")
                out.flush()
        return 0
    if args.text is None:
        raise WegweiserError('give a question: wegweiser ask "Wo bekomme ich einen Krankenschein?"')
    _print_result(engine.ask(args.text, lang=args.lang, mode=args.mode), args.json, out)
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import run_terminal

    run_terminal(settings, args.lang)
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """The Telegram bot when a token is configured, else the local terminal chat."""
    if settings.telegram_token:
        from bot.app import run_telegram

        run_telegram(settings)
        return 0
    return cmd_chat(args, settings)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from evaluation.evaluate import evaluate, format_report, load_eval, load_eval_set

    engine = _engine(settings)
    items = load_eval(Path(args.file)) if args.file else load_eval_set(args.set)
    report = evaluate(engine, items, mode=args.mode, use_lang=args.use_lang)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
        if args.failures:
            print("\nmisses:")
            for f in report.failures[: args.failures]:
                print("  ", json.dumps(f, ensure_ascii=False))
    return 0


def cmd_crisis_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from evaluation.crisis import calibrate
    from nlu.crisis_semantic import THRESHOLDS_FILE, CrisisThresholds

    engine = _engine(settings)
    thresholds, measured = calibrate(engine, CrisisThresholds.load())
    extra = {"calibrated_on": "evaluation/data/dev_situations.jsonl + bautzen.jsonl, 5-fold cross-validation",
             "measured": measured, "embedder": engine.ranker.embedder.name}
    print(json.dumps({"thresholds": thresholds.__dict__, **extra}, indent=2))
    if args.write:
        thresholds.save(THRESHOLDS_FILE, extra)
    return 0


def cmd_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from evaluation.calibrate import calibrate
    from evaluation.evaluate import load_eval, load_eval_set
    from retrieval.ranking import DEFAULT_THRESHOLDS_FILE

    engine = _engine(settings)
    items = load_eval(Path(args.file)) if args.file else load_eval_set("tuning")
    thresholds, report = calibrate(engine, items)
    print(json.dumps({"thresholds": thresholds.__dict__, "measured": report}, indent=2))
    if args.write:
        target = settings.thresholds_file or DEFAULT_THRESHOLDS_FILE
        thresholds.save(target, {"calibrated_on": args.file or "bautzen.jsonl + dev_situations.jsonl (even lines)",
                                 "embedder": engine.ranker.embedder.name, "measured": report})
        print(f"written to {target}")
    return 0


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge.loader import read_pack

    folder = Path(args.dir) if args.dir else settings.content_dir
    pack, problems = read_pack(folder)
    for p in problems:
        print(p)
    topics = len(pack.topics())
    print(f"{len(pack.entries)} valid entries, {topics} topics, {len(problems)} problem(s) in {folder}",
          file=sys.stderr)
    return 1 if problems else 0


def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import run_console

    run_console(settings)
    return 0


def cmd_staff_create(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from bot.store import Pseudonymizer, Store
    from console.auth import StaffAuth

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database)
    key = Pseudonymizer.from_env_or_file(settings.pseudonym_key, settings.data_dir / "pseudonym.key")
    del key  # created if missing: the console keys login-address hashes with the same file
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password (at least 10 characters): ")
        if getpass.getpass("Again: ") != password:
            raise WegweiserError("the passwords differ")
    auth = StaffAuth(store.sessions, (settings.pseudonym_key or "").encode() or
                     (settings.data_dir / "pseudonym.key").read_bytes())
    account = auth.create_account(args.username, args.name or args.username, password, args.role, args.languages,
                                  actor="command-line")
    print(f"created {account.role} {account.username}")
    return 0


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.engine import AnswerEngine

    built: list[bool] = []
    engine = AnswerEngine.build(settings, progress=True, on_index=built.append)
    state = "built" if built and built[0] else "up to date"
    print(f"index {state}: {len(engine.pack.entries)} entries, {engine.ranker.index.size} question variants, "
          f"embedder {engine.ranker.embedder.name}", file=sys.stderr)
    return 0


def _rasa_setup(settings: Settings) -> Any:
    from nlu.rasa_server import RasaSetup

    return RasaSetup(settings.data_dir / "rasa")


def cmd_nlu_eval(args: argparse.Namespace, settings: Settings) -> int:
    from nlu.evaluate import evaluate_backend, format_table
    from nlu.intents import BuiltinIntentClassifier, IntentBackend, RasaNluClient
    from nlu.training_data import TEST_FILE, TRAIN_FILE, load_training_data
    from retrieval.embedder import create_embedder

    test = load_training_data(Path(args.file) if args.file else TEST_FILE)
    test.synonyms.update(load_training_data(TRAIN_FILE).synonyms)
    embedder = create_embedder(settings.embedder, settings.max_query_tokens)
    backends: list[IntentBackend] = [
        BuiltinIntentClassifier.load_or_train(load_training_data(TRAIN_FILE), embedder, settings.data_dir / "nlu")
    ]
    rasa = RasaNluClient(settings.rasa_url, settings.rasa_token or "")
    if settings.rasa_token and rasa.alive():
        backends.append(rasa)
    else:
        print(f"(Rasa server not reachable at {settings.rasa_url} with RASA_TOKEN: built-in backend only)",
              file=sys.stderr)
    reports = [evaluate_backend(b, test) for b in backends]
    rasa.close()
    print(json.dumps(reports, indent=2, ensure_ascii=False) if args.json else format_table(reports))
    return 0


def cmd_rasa_setup(args: argparse.Namespace, settings: Settings) -> int:
    setup = _rasa_setup(settings)
    installed_s = setup.install()
    model, trained_s = setup.train()
    print(f"rasa ready: install {installed_s:.0f} s, training {trained_s:.0f} s, model {model}", file=sys.stderr)
    return 0


def cmd_rasa_serve(args: argparse.Namespace, settings: Settings) -> int:
    from urllib.parse import urlparse

    setup = _rasa_setup(settings)
    if not settings.rasa_token:
        raise WegweiserError("set RASA_TOKEN: the server is always started with --auth-token")
    port = urlparse(settings.rasa_url).port or 5005
    process = setup.serve(settings.rasa_token, port)
    print(f"rasa serving on 127.0.0.1:{port} (pid {process.pid}); Ctrl-C stops it", file=sys.stderr)
    try:
        return int(process.wait())
    except KeyboardInterrupt:
        process.terminate()
        return 0


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def cmd_translations_list(args: argparse.Namespace, settings: Settings) -> int:
    from translations.packages import installed_packages

    packages = installed_packages(settings.packages_dir)
    print(f"packages in {settings.packages_dir}:")
    if not packages:
        print("  (none: answers fall back to English/German and people are offered a mediator)")
    for pkg in packages:
        print(f"  {pkg.source}→{pkg.target}  version {pkg.version or '?'}  {_mb(pkg.size_bytes)}  {pkg.path.name}")
    if packages:
        from translations.machine import ArgosTranslator

        translator = ArgosTranslator(settings.packages_dir, settings.argos_dir, None)
        reachable = [lang for lang in settings.mt_languages
                     if translator.can_translate("de", lang) or translator.can_translate("en", lang)]
        print(f"answers can be machine-translated into: {', '.join(reachable) or 'none'} "
              f"(configured: {', '.join(settings.mt_languages)})")
    return 0


def cmd_translations_install(args: argparse.Namespace, settings: Settings) -> int:
    from translations.packages import install_from_index, install_package

    if args.from_index:
        source, target = args.from_index
        pkg = install_from_index(source, target, settings.packages_dir, settings.mt_index_url)
    elif args.path:
        pkg = install_package(Path(args.path), settings.packages_dir)
    else:
        raise WegweiserError("give a file (install PATH.argosmodel) or --from-index SOURCE TARGET")
    print(f"installed {pkg.source}→{pkg.target} version {pkg.version or '?'} ({_mb(pkg.size_bytes)}) in {pkg.path}")
    print("restart the bot and run `wegweiser translations build` to pre-translate the answers", file=sys.stderr)
    return 0


def cmd_translations_remove(args: argparse.Namespace, settings: Settings) -> int:
    from translations.packages import remove_package

    pkg = remove_package(args.source, args.target, settings.packages_dir)
    print(f"removed {pkg.source}→{pkg.target} ({pkg.path})")
    return 0


def cmd_translations_build(args: argparse.Namespace, settings: Settings) -> int:
    from knowledge.loader import load_pack
    from translations.build import pretranslate
    from translations.machine import ArgosTranslator

    languages = tuple(args.lang) if args.lang else settings.mt_languages
    translator = ArgosTranslator.from_settings(settings)
    try:
        report = pretranslate(load_pack(settings.content_dir), translator, languages, progress=True)
    finally:
        translator.close()
    print(report.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wegweiser", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO (never message text)")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer one question, or a JSON-lines batch")
    ask.add_argument("text", nargs="?")
    ask.add_argument("--lang", help="the person's language (otherwise detected)")
    ask.add_argument("--json", action="store_true")
    ask.add_argument("--batch", metavar="FILE.jsonl", help='one {"text": …, "lang"?: …} per line ("-" = stdin)')
    ask.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    ask.set_defaults(func=cmd_ask)

    for name, func, helptext in (("chat", cmd_chat, "local chat in the terminal"),
                                 ("run", cmd_run, "the bot: Telegram with a token, else the local chat")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--lang")
        p.set_defaults(func=func)

    ev = sub.add_parser("eval", help="accuracy, precision, rejection and emergency recall on an eval set")
    ev.add_argument("file", nargs="?")
    ev.add_argument("--set", choices=["own", "dev", "tuning", "blind"], default="own",
                    help="own: the team's set; dev: situations written apart from the content (tuned on); "
                         "tuning: both; blind: written blind, never tuned on")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    ev.add_argument("--use-lang", action="store_true", help="pass each item's language instead of detecting it")
    ev.add_argument("--failures", type=int, default=0, metavar="N", help="print the first N misses")
    ev.set_defaults(func=cmd_eval)

    cal = sub.add_parser("calibrate", help="fit the fusion weight and thresholds on the eval set")
    cal.add_argument("file", nargs="?")
    cal.add_argument("--write", action="store_true")
    cal.set_defaults(func=cmd_calibrate)

    cr = sub.add_parser("crisis", help="the semantic crisis detector")
    cr_sub = cr.add_subparsers(dest="crisis_command", required=True)
    cr_cal = cr_sub.add_parser("calibrate", help="fit its thresholds on tuning data (never the blind set)")
    cr_cal.add_argument("--write", action="store_true", help="write nlu/crisis_thresholds.json")
    cr_cal.set_defaults(func=cmd_crisis_calibrate)

    kn = sub.add_parser("knowledge", help="curated content tools")
    kn_sub = kn.add_subparsers(dest="knowledge_command", required=True)
    val = kn_sub.add_parser("validate", help="report every problem in a content pack")
    val.add_argument("dir", nargs="?")
    val.set_defaults(func=cmd_validate)

    nlu = sub.add_parser("nlu", help="intent recognition tools")
    nlu_sub = nlu.add_subparsers(dest="nlu_command", required=True)
    nlu_eval = nlu_sub.add_parser("eval", help="accuracy per intent and language, latency, per backend")
    nlu_eval.add_argument("file", nargs="?")
    nlu_eval.add_argument("--json", action="store_true")
    nlu_eval.set_defaults(func=cmd_nlu_eval)
    nlu_sub.add_parser("rasa-setup", help="Python 3.10 venv, rasa==3.6.21, train from nlu/data/nlu.yml").set_defaults(
        func=cmd_rasa_setup)
    nlu_sub.add_parser("rasa-serve", help="serve the trained model on 127.0.0.1 with RASA_TOKEN").set_defaults(
        func=cmd_rasa_serve)

    con = sub.add_parser("console", help="the staff console alone (the run command starts it next to the bot)")
    con.set_defaults(func=cmd_console)
    staff = sub.add_parser("staff", help="staff accounts of the console")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    admin = staff_sub.add_parser("create-admin", help="create an admin account (password asked, or from stdin)")
    admin.add_argument("username")
    admin.add_argument("--name", default="", help="display name (shown in reviews and the log)")
    admin.add_argument("--role", default="admin", choices=["reader", "reviewer", "editor", "admin"])
    admin.add_argument("--languages", default="", help="a reviewer's languages, e.g. ar,fa")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    admin.set_defaults(func=cmd_staff_create)

    idx = sub.add_parser("index", help="vector index tools")
    idx_sub = idx.add_subparsers(dest="index_command", required=True)
    build = idx_sub.add_parser("build", help="build the index if the content or model changed")
    build.set_defaults(func=cmd_index)

    mt = sub.add_parser("translations", help="machine-translation packages (argostranslate) and pre-translation")
    mt_sub = mt.add_subparsers(dest="translations_command", required=True)
    mt_sub.add_parser("list", help="installed packages and the languages answers reach").set_defaults(
        func=cmd_translations_list)
    install = mt_sub.add_parser("install", help="install PATH.argosmodel, or --from-index SOURCE TARGET (online)")
    install.add_argument("path", nargs="?")
    install.add_argument("--from-index", nargs=2, metavar=("SOURCE", "TARGET"))
    install.set_defaults(func=cmd_translations_install)
    remove = mt_sub.add_parser("remove", help="remove the SOURCE→TARGET package")
    remove.add_argument("source")
    remove.add_argument("target")
    remove.set_defaults(func=cmd_translations_remove)
    mt_build = mt_sub.add_parser("build", help="pre-translate every curated answer into the configured languages")
    mt_build.add_argument("--lang", action="append", help="only this language (repeatable)")
    mt_build.set_defaults(func=cmd_translations_build)
    people_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings))
    except WegweiserError as e:
        print(f"wegweiser: {e}", file=sys.stderr)
        return 2
