#!/usr/bin/env python3
"""Fills translations/filesync_{de,he}.ts from the tables below (run after lupdate).
Keeping the texts here lets a reviewer read every translation in one place."""
import sys, xml.etree.ElementTree as ET

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
 "The account ID is not valid: %1.": "Die Konto-ID ist ungültig: %1.",
 "Checking %1:%2…": "Prüfe %1:%2…", "The server answers.": "Der Server antwortet.",
 "The server %1 does not answer (%2); FileSync will keep trying.": "Der Server %1 antwortet nicht (%2); FileSync versucht es weiter.",
 "no answer in %1 s": "keine Antwort in %1 s", "Not set up yet": "Noch nicht eingerichtet", "Last sync: %1": "Letzte Synchronisation: %1",
 "FileSync": "FileSync", "The folder %1 does not exist.": "Der Ordner %1 existiert nicht.",
 "The folder %1 is already synced with another account; choose an empty folder for this one.": "Der Ordner %1 wird bereits mit einem anderen Konto synchronisiert; wählen Sie für dieses einen leeren Ordner.",
 "The server does not know this account ID; a new account is created.": "Der Server kennt diese Konto-ID nicht; ein neues Konto wird angelegt.",
 "The folder's FileSync data (%1) disappeared; syncing stopped so nothing is deleted.": "Die FileSync-Daten des Ordners (%1) sind verschwunden; die Synchronisation wurde angehalten, damit nichts gelöscht wird.",
 "Cannot write the sync journal (%1); syncing stopped.": "Das Synchronisationsjournal kann nicht geschrieben werden (%1); die Synchronisation wurde angehalten.",
 "Stopped": "Angehalten", "Connecting to %1…": "Verbinde mit %1…", "Up to date": "Aktuell", "Paused": "Pausiert",
 "Offline, retrying in %1 s": "Offline, neuer Versuch in %1 s", "Stopped: %1": "Angehalten: %1", "Syncing…": "Synchronisiere…",
 "Syncing %n file(s), %1 left": ["Synchronisiere %n Datei, %1 übrig", "Synchronisiere %n Dateien, %1 übrig"],
 "Conflict in %1": "Konflikt bei %1",
 "%1 was changed on two computers. Both versions are kept: the other computer's at %1, this computer's as %2.": "%1 wurde auf zwei Rechnern geändert. Beide Fassungen bleiben erhalten: die des anderen Rechners unter %1, die dieses Rechners als %2.",
 "FileSync needs your attention": "FileSync braucht Ihre Aufmerksamkeit",
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
 "The account ID is not valid: %1.": "מזהה החשבון אינו תקין: %1.",
 "Checking %1:%2…": "בודק את %1:%2…", "The server answers.": "השרת עונה.",
 "The server %1 does not answer (%2); FileSync will keep trying.": "השרת %1 אינו עונה (%2); FileSync ימשיך לנסות.",
 "no answer in %1 s": "אין תשובה תוך %1 שנ׳", "Not set up yet": "עדיין לא הוגדר", "Last sync: %1": "סנכרון אחרון: %1",
 "FileSync": "FileSync", "The folder %1 does not exist.": "התיקייה %1 אינה קיימת.",
 "The folder %1 is already synced with another account; choose an empty folder for this one.": "התיקייה %1 כבר מסונכרנת עם חשבון אחר; בחר תיקייה ריקה עבור חשבון זה.",
 "The server does not know this account ID; a new account is created.": "השרת אינו מכיר את מזהה החשבון; נוצר חשבון חדש.",
 "The folder's FileSync data (%1) disappeared; syncing stopped so nothing is deleted.": "נתוני FileSync של התיקייה (%1) נעלמו; הסנכרון נעצר כדי ששום דבר לא יימחק.",
 "Cannot write the sync journal (%1); syncing stopped.": "לא ניתן לכתוב את יומן הסנכרון (%1); הסנכרון נעצר.",
 "Stopped": "נעצר", "Connecting to %1…": "מתחבר אל %1…", "Up to date": "מעודכן", "Paused": "מושהה",
 "Offline, retrying in %1 s": "לא מקוון, ניסיון נוסף בעוד %1 שנ׳", "Stopped: %1": "נעצר: %1", "Syncing…": "מסנכרן…",
 "Syncing %n file(s), %1 left": ["מסנכרן קובץ אחד, נותרו %1", "מסנכרן %n קבצים, נותרו %1"],
 "Conflict in %1": "התנגשות ב-%1",
 "%1 was changed on two computers. Both versions are kept: the other computer's at %1, this computer's as %2.": "%1 שונה בשני מחשבים. שתי הגרסאות נשמרו: זו של המחשב האחר ב-%1, וזו של מחשב זה בשם %2.",
 "FileSync needs your attention": "FileSync זקוק לתשומת לבך",
}

def fill(path, table):
    tree = ET.parse(path)
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

missing = fill("translations/filesync_de.ts", DE) + fill("translations/filesync_he.ts", HE)
if missing:
    sys.exit("untranslated: " + "; ".join(sorted(set(missing))))
