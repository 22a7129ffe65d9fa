#!/usr/bin/env python3
"""Fills filesync_{de,he}.ts (next to this script) from the tables below; run it after
`cmake --build BUILD --target update_translations` (lupdate over desktop/ui and
desktop/engine). Keeping the texts here lets a reviewer read every translation in one
place; it exits non-zero and names every source text that has no translation yet."""
import os, sys, xml.etree.ElementTree as ET

DE = {
 "QT_LAYOUT_DIRECTION": "LTR",
 "Open folder": "Ordner öffnen", "Sync now": "Jetzt synchronisieren", "Pause syncing": "Synchronisation anhalten",
 "Settings…": "Einstellungen…", "Quit FileSync": "FileSync beenden", "Recent changes": "Letzte Änderungen",
 "Resume syncing": "Synchronisation fortsetzen",
 "Live change detection is unavailable (%1); changes are found by the periodic scan.": "Die sofortige Erkennung von Änderungen ist nicht verfügbar (%1); Änderungen werden bei der regelmäßigen Prüfung gefunden.",
 "The system allows no more folder watches (fs.inotify.max_user_watches); some changes will only be found by the periodic scan.": "Das System erlaubt keine weiteren Ordnerüberwachungen (fs.inotify.max_user_watches); manche Änderungen werden erst bei der regelmäßigen Prüfung gefunden.",
 "The server refused %1: %2": "Der Server hat %1 abgelehnt: %2",
 "Create a new account": "Ein neues Konto anlegen", "Use an existing account ID:": "Eine vorhandene Konto-ID verwenden:",
 "Copy": "Kopieren", "Use a different account": "Ein anderes Konto verwenden", "Start FileSync when I log in": "FileSync bei der Anmeldung starten",
 "FileSync Settings": "FileSync-Einstellungen", "server name or address": "Servername oder -adresse", "32 letters and digits": "32 Buchstaben und Ziffern",
 " s": " s", "Choose…": "Auswählen…", "Server:": "Server:", "Port:": "Port:", "Folder:": "Ordner:", "Account:": "Konto:",
 "Full rescan every:": "Vollständige Prüfung alle:", "Folder to keep in sync": "Zu synchronisierender Ordner",
 "Enter the server's name or address.": "Geben Sie den Namen oder die Adresse des Servers ein.",
 "The server name cannot contain spaces or slashes.": "Der Servername darf keine Leerzeichen oder Schrägstriche enthalten.",
 "Choose the folder to keep in sync.": "Wählen Sie den Ordner, der synchron gehalten werden soll.",
 "The folder %1 is not a writable folder.": "Der Ordner %1 ist kein beschreibbarer Ordner.",
 "The folder %1 does not exist and cannot be created.": "Der Ordner %1 existiert nicht und kann nicht angelegt werden.",
 "Checking %1:%2…": "Prüfe %1:%2…", "The server answers.": "Der Server antwortet.",
 "The server %1 does not answer (%2); FileSync will keep trying.": "Der Server %1 antwortet nicht (%2); FileSync versucht es weiter.",
 "no answer in %1 s": "keine Antwort in %1 s", "Not set up yet": "Noch nicht eingerichtet", "Last sync: %1": "Letzte Synchronisation: %1",
 "FileSync": "FileSync", "The folder %1 does not exist.": "Der Ordner %1 existiert nicht.",
 "The server does not know this account ID; a new account is created.": "Der Server kennt diese Konto-ID nicht; ein neues Konto wird angelegt.",
 "The folder's FileSync data (%1) disappeared; syncing stopped so nothing is deleted.": "Die FileSync-Daten des Ordners (%1) sind verschwunden; die Synchronisation wurde angehalten, damit nichts gelöscht wird.",
 "Cannot write the sync journal (%1); syncing stopped.": "Das Synchronisationsjournal kann nicht geschrieben werden (%1); die Synchronisation wurde angehalten.",
 "Stopped": "Angehalten", "Connecting to %1…": "Verbinde mit %1…", "Up to date": "Aktuell", "Paused": "Pausiert",
 "Offline, retrying in %1 s": "Offline, neuer Versuch in %1 s", "Stopped: %1": "Angehalten: %1", "Syncing…": "Synchronisiere…",
 "Syncing %n file(s), %1 left": ["Synchronisiere %n Datei, %1 übrig", "Synchronisiere %n Dateien, %1 übrig"],
 "Conflict in %1": "Konflikt bei %1",
 "%1 was changed on two computers. Both versions are kept: the other computer's at %1, this computer's as %2.": "%1 wurde auf zwei Rechnern geändert. Beide Fassungen bleiben erhalten: die des anderen Rechners unter %1, die dieses Rechners als %2.",
 "FileSync needs your attention": "FileSync braucht Ihre Aufmerksamkeit",
 "The account ID is not valid: it has %1 letters a–z and digits 2–7 (dashes and spaces are ignored).": "Die Konto-ID ist ungültig: Sie besteht aus %1 Buchstaben a–z und Ziffern 2–7 (Bindestriche und Leerzeichen werden ignoriert).",
 "Conflict: %1 was changed on two computers; this computer's version is kept as %2.": "Konflikt: %1 wurde auf zwei Rechnern geändert; die Fassung dieses Rechners bleibt als %2 erhalten.",
 "%1: %2": "%1: %2", "FileSync: %1": "FileSync: %1", "%1 %2  (%3, %4)": "%1 %2  (%3, %4)",
 "uploaded": "hochgeladen", "downloaded": "heruntergeladen", "deleted": "gelöscht", "moved": "verschoben",
 "conflict copy": "Konfliktkopie",
 "The server could not list the changes: %1": "Der Server konnte die Änderungen nicht auflisten: %1",
 "The server's list of changes does not advance; trying again later.": "Die Änderungsliste des Servers rückt nicht vor; FileSync versucht es später erneut.",
 "The server did not know the account ID given for this folder, so it got a new account earlier; it keeps syncing with that one.": "Der Server kannte die für diesen Ordner angegebene Konto-ID nicht, daher wurde früher ein neues Konto angelegt; der Ordner wird weiter mit diesem synchronisiert.",
 "The folder %1 belongs to another account; choose an empty folder for this one.": "Der Ordner %1 gehört zu einem anderen Konto; wählen Sie für dieses einen leeren Ordner.",
 "The server cannot be used with this version of FileSync: %1.": "Der Server kann mit dieser Version von FileSync nicht verwendet werden: %1.",
 "The server sent an invalid account ID.": "Der Server hat eine ungültige Konto-ID gesendet.",
}
HE = {
 "QT_LAYOUT_DIRECTION": "RTL",
 "Open folder": "פתח תיקייה", "Sync now": "סנכרן עכשיו", "Pause syncing": "השהה סנכרון", "Settings…": "הגדרות…",
 "Quit FileSync": "צא מ-FileSync", "Recent changes": "שינויים אחרונים", "Resume syncing": "המשך סנכרון",
 "Live change detection is unavailable (%1); changes are found by the periodic scan.": "זיהוי שינויים מיידי אינו זמין (%1); שינויים יימצאו בסריקה התקופתית.",
 "The system allows no more folder watches (fs.inotify.max_user_watches); some changes will only be found by the periodic scan.": "המערכת אינה מתירה מעקב אחר תיקיות נוספות (fs.inotify.max_user_watches); חלק מהשינויים יימצאו רק בסריקה התקופתית.",
 "The server refused %1: %2": "השרת דחה את %1: %2",
 "Create a new account": "צור חשבון חדש", "Use an existing account ID:": "השתמש במזהה חשבון קיים:", "Copy": "העתק",
 "Use a different account": "השתמש בחשבון אחר", "Start FileSync when I log in": "הפעל את FileSync בכניסה למערכת",
 "FileSync Settings": "הגדרות FileSync", "server name or address": "שם או כתובת השרת", "32 letters and digits": "32 אותיות וספרות",
 " s": " שנ׳", "Choose…": "בחר…", "Server:": "שרת:", "Port:": "פורט:", "Folder:": "תיקייה:", "Account:": "חשבון:",
 "Full rescan every:": "סריקה מלאה כל:", "Folder to keep in sync": "התיקייה לסנכרון",
 "Enter the server's name or address.": "הזן את שם השרת או את כתובתו.",
 "The server name cannot contain spaces or slashes.": "שם השרת אינו יכול להכיל רווחים או לוכסנים.",
 "Choose the folder to keep in sync.": "בחר את התיקייה לסנכרון.",
 "The folder %1 is not a writable folder.": "התיקייה %1 אינה תיקייה שניתן לכתוב בה.",
 "The folder %1 does not exist and cannot be created.": "התיקייה %1 אינה קיימת ולא ניתן ליצור אותה.",
 "Checking %1:%2…": "בודק את %1:%2…", "The server answers.": "השרת עונה.",
 "The server %1 does not answer (%2); FileSync will keep trying.": "השרת %1 אינו עונה (%2); FileSync ימשיך לנסות.",
 "no answer in %1 s": "אין תשובה תוך %1 שנ׳", "Not set up yet": "עדיין לא הוגדר", "Last sync: %1": "סנכרון אחרון: %1",
 "FileSync": "FileSync", "The folder %1 does not exist.": "התיקייה %1 אינה קיימת.",
 "The server does not know this account ID; a new account is created.": "השרת אינו מכיר את מזהה החשבון; נוצר חשבון חדש.",
 "The folder's FileSync data (%1) disappeared; syncing stopped so nothing is deleted.": "נתוני FileSync של התיקייה (%1) נעלמו; הסנכרון נעצר כדי ששום דבר לא יימחק.",
 "Cannot write the sync journal (%1); syncing stopped.": "לא ניתן לכתוב את יומן הסנכרון (%1); הסנכרון נעצר.",
 "Stopped": "נעצר", "Connecting to %1…": "מתחבר אל %1…", "Up to date": "מעודכן", "Paused": "מושהה",
 "Offline, retrying in %1 s": "לא מקוון, ניסיון נוסף בעוד %1 שנ׳", "Stopped: %1": "נעצר: %1", "Syncing…": "מסנכרן…",
 "Syncing %n file(s), %1 left": ["מסנכרן קובץ אחד, נותרו %1", "מסנכרן %n קבצים, נותרו %1"],
 "Conflict in %1": "התנגשות ב-%1",
 "%1 was changed on two computers. Both versions are kept: the other computer's at %1, this computer's as %2.": "%1 שונה בשני מחשבים. שתי הגרסאות נשמרו: זו של המחשב האחר ב-%1, וזו של מחשב זה בשם %2.",
 "FileSync needs your attention": "FileSync זקוק לתשומת לבך",
 "The account ID is not valid: it has %1 letters a–z and digits 2–7 (dashes and spaces are ignored).": "מזהה החשבון אינו תקין: הוא מורכב מ-%1 אותיות a–z וספרות 2–7 (מקפים ורווחים אינם נחשבים).",
 "Conflict: %1 was changed on two computers; this computer's version is kept as %2.": "התנגשות: %1 שונה בשני מחשבים; הגרסה של מחשב זה נשמרה בשם %2.",
 "%1: %2": "%1: %2", "FileSync: %1": "FileSync: %1", "%1 %2  (%3, %4)": "%1 %2  (%3, %4)",
 "uploaded": "הועלה", "downloaded": "הורד", "deleted": "נמחק", "moved": "הועבר", "conflict copy": "עותק התנגשות",
 "The server could not list the changes: %1": "השרת לא הצליח לפרט את השינויים: %1",
 "The server's list of changes does not advance; trying again later.": "רשימת השינויים של השרת אינה מתקדמת; ננסה שוב מאוחר יותר.",
 "The server did not know the account ID given for this folder, so it got a new account earlier; it keeps syncing with that one.": "השרת לא הכיר את מזהה החשבון שניתן לתיקייה זו, ולכן נוצר עבורה קודם לכן חשבון חדש; הסנכרון ממשיך עם חשבון זה.",
 "The folder %1 belongs to another account; choose an empty folder for this one.": "התיקייה %1 שייכת לחשבון אחר; בחר תיקייה ריקה עבור חשבון זה.",
 "The server cannot be used with this version of FileSync: %1.": "לא ניתן להשתמש בשרת עם גרסה זו של FileSync: %1.",
 "The server sent an invalid account ID.": "השרת שלח מזהה חשבון לא תקין.",
}

# English needs only the plural forms the source texts leave open ("file(s)").
EN = {
 "Syncing %n file(s), %1 left": ["Syncing %n file, %1 left", "Syncing %n files, %1 left"],
}

def plurals_only(tree):
    for context in list(tree.getroot()):
        for message in context.findall("message"):
            if message.get("numerus") != "yes":
                context.remove(message)
        if not context.findall("message"):
            tree.getroot().remove(context)

def fill(path, table, only_plurals=False):
    tree = ET.parse(path)
    if only_plurals:
        plurals_only(tree)
    missing = []
    for message in tree.iter("message"):
        source = message.find("source").text
        translation = message.find("translation")
        value = table.get(source)
        if value is None:
            missing.append(source)
            continue
        translation.attrib.pop("type", None)
        for child in list(translation):
            translation.remove(child)
        if isinstance(value, list):
            translation.text = None
            for form in value:
                ET.SubElement(translation, "numerusform").text = form
        else:
            translation.text = value
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return missing

here = os.path.dirname(os.path.abspath(__file__))
missing = (fill(os.path.join(here, "filesync_de.ts"), DE) + fill(os.path.join(here, "filesync_he.ts"), HE)
           + fill(os.path.join(here, "filesync_en.ts"), EN, only_plurals=True))
if missing:
    sys.exit("untranslated: " + "; ".join(sorted(set(missing))))
