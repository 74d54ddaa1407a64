"""Texts for staff and language mediators. They work with the district in German, so these are German
only; the person's side speaks every served language (``translations/locale/*/handover.po``)."""

from __future__ import annotations

HELPER_TEXTS: dict[str, str] = {
    "button.accept": "✅ Übernehmen",
    "button.decline": "Ablehnen",
    "offer": "Neue Anfrage {label}\nSprache: {language}\nThema: {topic}\nAnlass: {reason}\n\n"
             "Können Sie übernehmen? Ohne Antwort geht die Anfrage nach {minutes} Minuten an die nächste Person.",
    "reason.requested": "die Person möchte mit einem Menschen sprechen",
    "reason.unanswered": "der Bot hatte nach einer Rückfrage keine Antwort",
    "reason.always": "heikles Thema (Fristen, Abschiebung, Dublin …)",
    "reason.emergency": "Notfall – die Notrufnummern wurden bereits angezeigt",
    "accepted_help": "Danke! Sie sind verbunden. Antworten Sie hier; jede Nachricht geht ohne Ihren Namen an die "
                     "Person. Bei mehreren Gesprächen nutzen Sie bitte „Antworten“ auf eine Nachricht der Person.\n"
                     "!note … bleibt intern · /close Ergebnis beendet · /handover team gibt ans Amt ab",
    "declined": "In Ordnung, die Anfrage geht an die nächste Person.",
    "offer_gone": "Diese Anfrage ist nicht mehr offen (schon vergeben, abgelaufen oder nicht für Sie).",
    "offer_expired": "Eine Anfrage ist ohne Antwort abgelaufen und ging an die nächste Person.",
    "mediator_intro": "Gespräch {label} · {language} · {topic}\nLetzte Frage der Person: {question}\n\n"
                      "Nachrichten der Person erscheinen als Antwort auf diese Nachricht.",
    "no_question": "(keine – die Person schreibt gleich)",
    "staff_intro": "Anfrage {label}\nSprache: {language}\nThema: {topic}\nZuständig: {team}\nAnlass: {reason}\n"
                   "Maschinelle Übersetzung: {translated}\n{gender}\nLetzte Frage: {question}\n\n"
                   "Antworten Sie in diesem Thema; jede Nachricht geht ohne Ihren Namen an die Person. "
                   "!note … bleibt intern · /close Ergebnis beendet · /handover team|mediator gibt ab",
    "mt_yes": "ja, in beide Richtungen (die Person liest kein Deutsch)",
    "mt_no": "nein",
    "mt_line": "🔤 Maschinelle Übersetzung: {text}",
    "mt_missing": "🔤 Für {language} ist keine maschinelle Übersetzung installiert.",
    "wants_woman": "Die Person möchte mit einer Frau sprechen.",
    "person_says": "{label}: {text}",
    "from_mediator": "Von der Sprachmittlung {alias} übergeben.",
    "mediator_gone": "Die Sprachmittlung ist nicht mehr erreichbar; das Gespräch geht an Sie.",
    "topic_deleted": "Das Thema für {label} wurde gelöscht; ein neues wurde angelegt.",
    "helper_unreachable": "Helfer:in Nr. {helper} hat den Bot blockiert oder wurde entfernt; offene Anfragen und "
                          "Gespräche wurden weitergegeben.",
    "person_blocked": "Die Person hat den Bot blockiert; das Gespräch wurde beendet.",
    "closed": "Gespräch {label} beendet. Danke!",
    "closed_notice": "Gespräch {label} wurde beendet: {resolution}",
    "closed_by_person": "Die Person hat das Gespräch beendet.",
    "deleted_by_person": "Die Person hat ihre Daten gelöscht; das Gespräch wurde beendet.",
    "no_resolution": "ohne Notiz beendet",
    "handed_to_team": "Gespräch {label} ist jetzt bei: {team}.",
    "handed_to_mediator": "Gespräch {label}: eine Sprachmittlung wird gefragt.",
    "no_mediator_free": "Gerade ist keine passende Sprachmittlung frei; das Gespräch bleibt beim Team.",
    "topic_inactive": "Gespräch {label} ist nicht mehr beim Team (beendet oder bei einer Sprachmittlung); "
                      "diese Nachricht wurde nicht weitergegeben.",
    "no_staff_group": "Es ist keine Mitarbeitenden-Gruppe eingerichtet; das Gespräch bleibt bei Ihnen.",
    "handover_usage": "So geben Sie ab: /handover mediator oder /handover TEAM (Teams: {teams}).",
    "no_conversation": "Dazu finde ich kein offenes Gespräch. Bei mehreren Gesprächen antworten Sie bitte auf eine "
                       "Nachricht der Person.",
    "join_private_only": "Bitte senden Sie /join CODE in einem privaten Chat mit dem Bot.",
    "join_refused": "Dieser Code ist nicht gültig (unbekannt, schon benutzt oder abgelaufen). Bitte fragen Sie die "
                    "Koordination nach einem neuen Code.",
    "joined_mediator": "Willkommen! Sie sind als Sprachmittlung „{alias}“ eingetragen. Anfragen kommen hier an, "
                       "mit Buttons zum Übernehmen oder Ablehnen. /pause macht eine Pause, /resume beendet sie, "
                       "/status zeigt Ihre Auslastung.",
    "joined_staff": "Willkommen! Sie sind als Mitarbeiter:in „{alias}“ eingetragen. Gespräche erscheinen als "
                    "Themen in der Mitarbeitenden-Gruppe.",
    "help_mediator": "Anfragen kommen hier an. Antworten Sie auf Nachrichten der Person; !note … bleibt intern; "
                     "/close Ergebnis beendet; /handover team gibt ans Amt ab; /pause, /resume, /status.",
    "help_staff": "Jedes Gespräch ist ein Thema in der Mitarbeitenden-Gruppe. Dort: Nachricht = an die Person; "
                  "!note … bleibt intern; /close Ergebnis; /handover team|mediator.",
    "paused": "Pause ist an: Sie bekommen keine neuen Anfragen.",
    "resumed": "Willkommen zurück: Sie bekommen wieder Anfragen.",
    "status": "{alias}: offen {open}/{max_open}, diese Woche {week}/{max_week}, Pause: {paused}",
    "yes": "ja",
    "no": "nein",
    "not_staff": "Nur eingetragene Mitarbeitende können hier mit Personen schreiben.",
    "failed": "Das hat nicht geklappt (ein Fehler im Bot). Bitte versuchen Sie es gleich noch einmal.",
    "unknown": "Diesen Befehl kenne ich nicht. /help zeigt, was geht.",
    "emergency_alert": "🚨 Notfall-Hinweis: Eine Person ({language}) hat eine Nachricht geschrieben, die auf einen "
                       "Notfall hindeutet ({category}). Der Bot hat ihr 112/110 und die Krisennummern gezeigt und "
                       "angeboten, sie mit einem Menschen zu verbinden. Ohne ihre Zustimmung wird nichts geteilt.",
}


def helper_text(key: str, **values: object) -> str:
    text = HELPER_TEXTS[key]
    return text.format(**values) if values else text
