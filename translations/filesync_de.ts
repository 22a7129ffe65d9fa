<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="de_DE">
<context>
    <name>QGuiApplication</name>
    <message>
        <location filename="../desktop/ui/trayapplication.cpp" line="17" />
        <source>QT_LAYOUT_DIRECTION</source>
        <comment>Translate this string to the string 'LTR' in left-to-right languages or to 'RTL' in right-to-left languages (such as Hebrew and Arabic) to get proper widget layout.</comment>
        <translation>LTR</translation>
    </message>
</context>
<context>
    <name>filesync::AppActions</name>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="14" />
        <source>Open folder</source>
        <translation>Ordner öffnen</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="15" />
        <source>Sync now</source>
        <translation>Jetzt synchronisieren</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="16" />
        <location filename="../desktop/ui/appactions.cpp" line="57" />
        <source>Pause syncing</source>
        <translation>Synchronisation anhalten</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="17" />
        <source>Settings…</source>
        <translation>Einstellungen…</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="18" />
        <source>Quit FileSync</source>
        <translation>FileSync beenden</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="19" />
        <source>Recent changes</source>
        <translation>Letzte Änderungen</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="57" />
        <source>Resume syncing</source>
        <translation>Synchronisation fortsetzen</translation>
    </message>
</context>
<context>
    <name>filesync::ChangeAggregator</name>
    <message>
        <location filename="../desktop/engine/changeaggregator.cpp" line="44" />
        <source>Live change detection is unavailable (%1); changes are found by the periodic scan.</source>
        <translation>Die sofortige Erkennung von Änderungen ist nicht verfügbar (%1); Änderungen werden bei der regelmäßigen Prüfung gefunden.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/changeaggregator.cpp" line="91" />
        <source>The system allows no more folder watches (fs.inotify.max_user_watches); some changes will only be found by the periodic scan.</source>
        <translation>Das System erlaubt keine weiteren Ordnerüberwachungen (fs.inotify.max_user_watches); manche Änderungen werden erst bei der regelmäßigen Prüfung gefunden.</translation>
    </message>
</context>
<context>
    <name>filesync::Propagator</name>
    <message>
        <location filename="../desktop/engine/propagator.cpp" line="58" />
        <source>The server refused %1: %2</source>
        <translation>Der Server hat %1 abgelehnt: %2</translation>
    </message>
</context>
<context>
    <name>filesync::SettingsDialog</name>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="30" />
        <source>Create a new account</source>
        <translation>Ein neues Konto anlegen</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="31" />
        <source>Use an existing account ID:</source>
        <translation>Eine vorhandene Konto-ID verwenden:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="34" />
        <source>Copy</source>
        <translation>Kopieren</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="35" />
        <source>Use a different account</source>
        <translation>Ein anderes Konto verwenden</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="37" />
        <source>Start FileSync when I log in</source>
        <translation>FileSync bei der Anmeldung starten</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="42" />
        <source>FileSync Settings</source>
        <translation>FileSync-Einstellungen</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="44" />
        <source>server name or address</source>
        <translation>Servername oder -adresse</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="50" />
        <source>32 letters and digits</source>
        <translation>32 Buchstaben und Ziffern</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="60" />
        <source> s</source>
        <translation> s</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="69" />
        <source>Choose…</source>
        <translation>Auswählen…</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="84" />
        <source>Server:</source>
        <translation>Server:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="85" />
        <source>Port:</source>
        <translation>Port:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="87" />
        <source>Folder:</source>
        <translation>Ordner:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="88" />
        <source>Account:</source>
        <translation>Konto:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="89" />
        <source>Full rescan every:</source>
        <translation>Vollständige Prüfung alle:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="123" />
        <source>Folder to keep in sync</source>
        <translation>Zu synchronisierender Ordner</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="154" />
        <source>Enter the server's name or address.</source>
        <translation>Geben Sie den Namen oder die Adresse des Servers ein.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="156" />
        <source>The server name cannot contain spaces or slashes.</source>
        <translation>Der Servername darf keine Leerzeichen oder Schrägstriche enthalten.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="160" />
        <source>Choose the folder to keep in sync.</source>
        <translation>Wählen Sie den Ordner, der synchron gehalten werden soll.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="162" />
        <source>The folder %1 is not a writable folder.</source>
        <translation>Der Ordner %1 ist kein beschreibbarer Ordner.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="164" />
        <source>The folder %1 does not exist and cannot be created.</source>
        <translation>Der Ordner %1 existiert nicht und kann nicht angelegt werden.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="170" />
        <source>The account ID is not valid: %1.</source>
        <translation>Die Konto-ID ist ungültig: %1.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="200" />
        <source>Checking %1:%2…</source>
        <translation>Prüfe %1:%2…</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="208" />
        <source>The server answers.</source>
        <translation>Der Server antwortet.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="209" />
        <source>The server %1 does not answer (%2); FileSync will keep trying.</source>
        <translation>Der Server %1 antwortet nicht (%2); FileSync versucht es weiter.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="216" />
        <source>no answer in %1 s</source>
        <translation>keine Antwort in %1 s</translation>
    </message>
</context>
<context>
    <name>filesync::StatusModel</name>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="60" />
        <source>Not set up yet</source>
        <translation>Noch nicht eingerichtet</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="68" />
        <source>Last sync: %1</source>
        <translation>Letzte Synchronisation: %1</translation>
    </message>
</context>
<context>
    <name>filesync::StatusWindow</name>
    <message>
        <location filename="../desktop/ui/statuswindow.cpp" line="22" />
        <source>FileSync</source>
        <translation>FileSync</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statuswindow.cpp" line="29" />
        <source>Recent changes</source>
        <translation>Letzte Änderungen</translation>
    </message>
</context>
<context>
    <name>filesync::SyncEngine</name>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="113" />
        <source>The folder %1 does not exist.</source>
        <translation>Der Ordner %1 existiert nicht.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="123" />
        <source>The folder %1 is already synced with another account; choose an empty folder for this one.</source>
        <translation>Der Ordner %1 wird bereits mit einem anderen Konto synchronisiert; wählen Sie für dieses einen leeren Ordner.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="216" />
        <source>The server does not know this account ID; a new account is created.</source>
        <translation>Der Server kennt diese Konto-ID nicht; ein neues Konto wird angelegt.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="271" />
        <source>The folder's FileSync data (%1) disappeared; syncing stopped so nothing is deleted.</source>
        <translation>Die FileSync-Daten des Ordners (%1) sind verschwunden; die Synchronisation wurde angehalten, damit nichts gelöscht wird.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="326" />
        <source>Cannot write the sync journal (%1); syncing stopped.</source>
        <translation>Das Synchronisationsjournal kann nicht geschrieben werden (%1); die Synchronisation wurde angehalten.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="378" />
        <source>Stopped</source>
        <translation>Angehalten</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="379" />
        <source>Connecting to %1…</source>
        <translation>Verbinde mit %1…</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="380" />
        <source>Up to date</source>
        <translation>Aktuell</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="381" />
        <source>Paused</source>
        <translation>Pausiert</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="382" />
        <source>Offline, retrying in %1 s</source>
        <translation>Offline, neuer Versuch in %1 s</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="383" />
        <source>Stopped: %1</source>
        <translation>Angehalten: %1</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="388" />
        <source>Syncing…</source>
        <translation>Synchronisiere…</translation>
    </message>
    <message numerus="yes">
        <location filename="../desktop/engine/syncengine.cpp" line="389" />
        <source>Syncing %n file(s), %1 left</source>
        <translation><numerusform>Synchronisiere %n Datei, %1 übrig</numerusform><numerusform>Synchronisiere %n Dateien, %1 übrig</numerusform></translation>
    </message>
</context>
<context>
    <name>filesync::TrayIcon</name>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="22" />
        <source>Conflict in %1</source>
        <translation>Konflikt bei %1</translation>
    </message>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="23" />
        <source>%1 was changed on two computers. Both versions are kept: the other computer's at %1, this computer's as %2.</source>
        <translation>%1 wurde auf zwei Rechnern geändert. Beide Fassungen bleiben erhalten: die des anderen Rechners unter %1, die dieses Rechners als %2.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="29" />
        <source>FileSync needs your attention</source>
        <translation>FileSync braucht Ihre Aufmerksamkeit</translation>
    </message>
</context>
</TS>