<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="de_DE">
<context>
    <name>QGuiApplication</name>
    <message>
        <location filename="../desktop/ui/localization.cpp" line="14" />
        <source>QT_LAYOUT_DIRECTION</source>
        <comment>Translate this string to the string 'LTR' in left-to-right languages or to 'RTL' in right-to-left languages (such as Hebrew and Arabic) to get proper widget layout.</comment>
        <translation>LTR</translation>
    </message>
</context>
<context>
    <name>filesync::AppActions</name>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="12" />
        <source>Open folder</source>
        <translation>Ordner öffnen</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="13" />
        <source>Sync now</source>
        <translation>Jetzt synchronisieren</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="14" />
        <location filename="../desktop/ui/appactions.cpp" line="55" />
        <source>Pause syncing</source>
        <translation>Synchronisation anhalten</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="15" />
        <source>Settings…</source>
        <translation>Einstellungen…</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="16" />
        <source>Quit FileSync</source>
        <translation>FileSync beenden</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="17" />
        <source>Recent changes</source>
        <translation>Letzte Änderungen</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="55" />
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
        <location filename="../desktop/engine/changeaggregator.cpp" line="93" />
        <source>The system allows no more folder watches (fs.inotify.max_user_watches); some changes will only be found by the periodic scan.</source>
        <translation>Das System erlaubt keine weiteren Ordnerüberwachungen (fs.inotify.max_user_watches); manche Änderungen werden erst bei der regelmäßigen Prüfung gefunden.</translation>
    </message>
</context>
<context>
    <name>filesync::Propagator</name>
    <message>
        <location filename="../desktop/engine/propagator.cpp" line="64" />
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
        <location filename="../desktop/ui/settingsdialog.cpp" line="43" />
        <source>FileSync Settings</source>
        <translation>FileSync-Einstellungen</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="45" />
        <source>server name or address</source>
        <translation>Servername oder -adresse</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="51" />
        <source>32 letters and digits</source>
        <translation>32 Buchstaben und Ziffern</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="61" />
        <source> s</source>
        <translation> s</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="76" />
        <source>Choose…</source>
        <translation>Auswählen…</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="90" />
        <source>Server:</source>
        <translation>Server:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="91" />
        <source>Port:</source>
        <translation>Port:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="93" />
        <source>Folder:</source>
        <translation>Ordner:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="94" />
        <source>Account:</source>
        <translation>Konto:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="95" />
        <source>Full rescan every:</source>
        <translation>Vollständige Prüfung alle:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="131" />
        <source>Folder to keep in sync</source>
        <translation>Zu synchronisierender Ordner</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="162" />
        <source>Enter the server's name or address.</source>
        <translation>Geben Sie den Namen oder die Adresse des Servers ein.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="164" />
        <source>The server name cannot contain spaces or slashes.</source>
        <translation>Der Servername darf keine Leerzeichen oder Schrägstriche enthalten.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="168" />
        <source>Choose the folder to keep in sync.</source>
        <translation>Wählen Sie den Ordner, der synchron gehalten werden soll.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="170" />
        <source>The folder %1 is not a writable folder.</source>
        <translation>Der Ordner %1 ist kein beschreibbarer Ordner.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="172" />
        <source>The folder %1 does not exist and cannot be created.</source>
        <translation>Der Ordner %1 existiert nicht und kann nicht angelegt werden.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="178" />
        <source>The account ID is not valid: it has %1 letters a–z and digits 2–7 (dashes and spaces are ignored).</source>
        <translation>Die Konto-ID ist ungültig: Sie besteht aus %1 Buchstaben a–z und Ziffern 2–7 (Bindestriche und Leerzeichen werden ignoriert).</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="214" />
        <source>Checking %1:%2…</source>
        <translation>Prüfe %1:%2…</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="224" />
        <source>The server answers.</source>
        <translation>Der Server antwortet.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="225" />
        <source>The server %1 does not answer (%2); FileSync will keep trying.</source>
        <translation>Der Server %1 antwortet nicht (%2); FileSync versucht es weiter.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="236" />
        <source>no answer in %1 s</source>
        <translation>keine Antwort in %1 s</translation>
    </message>
</context>
<context>
    <name>filesync::StatusModel</name>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="37" />
        <source>Conflict: %1 was changed on two computers; this computer's version is kept as %2.</source>
        <translation>Konflikt: %1 wurde auf zwei Rechnern geändert; die Fassung dieses Rechners bleibt als %2 erhalten.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="55" />
        <source>%1: %2</source>
        <translation>%1: %2</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="73" />
        <source>Not set up yet</source>
        <translation>Noch nicht eingerichtet</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="79" />
        <source>FileSync: %1</source>
        <translation>FileSync: %1</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="86" />
        <source>Last sync: %1</source>
        <translation>Letzte Synchronisation: %1</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="117" />
        <source>uploaded</source>
        <translation>hochgeladen</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="119" />
        <source>downloaded</source>
        <translation>heruntergeladen</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="121" />
        <source>deleted</source>
        <translation>gelöscht</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="123" />
        <source>moved</source>
        <translation>verschoben</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="125" />
        <source>conflict copy</source>
        <translation>Konfliktkopie</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="139" />
        <source>%1 %2  (%3, %4)</source>
        <extracomment>A recent change: arrow (up = to the server, down = from it), file, what happened, when</extracomment>
        <translation>%1 %2  (%3, %4)</translation>
    </message>
</context>
<context>
    <name>filesync::StatusWindow</name>
    <message>
        <location filename="../desktop/ui/statuswindow.cpp" line="23" />
        <source>FileSync</source>
        <translation>FileSync</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statuswindow.cpp" line="31" />
        <source>Recent changes</source>
        <translation>Letzte Änderungen</translation>
    </message>
</context>
<context>
    <name>filesync::SyncCycle</name>
    <message>
        <location filename="../desktop/engine/synccycle.cpp" line="77" />
        <source>The folder's FileSync data (%1) disappeared; syncing stopped so nothing is deleted.</source>
        <translation>Die FileSync-Daten des Ordners (%1) sind verschwunden; die Synchronisation wurde angehalten, damit nichts gelöscht wird.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/synccycle.cpp" line="103" />
        <source>The server could not list the changes: %1</source>
        <translation>Der Server konnte die Änderungen nicht auflisten: %1</translation>
    </message>
    <message>
        <location filename="../desktop/engine/synccycle.cpp" line="111" />
        <source>The server's list of changes does not advance; trying again later.</source>
        <translation>Die Änderungsliste des Servers rückt nicht vor; FileSync versucht es später erneut.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/synccycle.cpp" line="132" />
        <source>Cannot write the sync journal (%1); syncing stopped.</source>
        <translation>Das Synchronisationsjournal kann nicht geschrieben werden (%1); die Synchronisation wurde angehalten.</translation>
    </message>
</context>
<context>
    <name>filesync::SyncEngine</name>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="123" />
        <source>The folder %1 does not exist.</source>
        <translation>Der Ordner %1 existiert nicht.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="248" />
        <source>The server does not know this account ID; a new account is created.</source>
        <translation>Der Server kennt diese Konto-ID nicht; ein neues Konto wird angelegt.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="306" />
        <source>The folder's FileSync data (%1) disappeared; syncing stopped so nothing is deleted.</source>
        <translation>Die FileSync-Daten des Ordners (%1) sind verschwunden; die Synchronisation wurde angehalten, damit nichts gelöscht wird.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="274" />
        <source>Cannot write the sync journal (%1); syncing stopped.</source>
        <translation>Das Synchronisationsjournal kann nicht geschrieben werden (%1); die Synchronisation wurde angehalten.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="134" />
        <source>The server did not know the account ID given for this folder, so it got a new account earlier; it keeps syncing with that one.</source>
        <translation>Der Server kannte die für diesen Ordner angegebene Konto-ID nicht, daher wurde früher ein neues Konto angelegt; der Ordner wird weiter mit diesem synchronisiert.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="139" />
        <source>The folder %1 belongs to another account; choose an empty folder for this one.</source>
        <translation>Der Ordner %1 gehört zu einem anderen Konto; wählen Sie für dieses einen leeren Ordner.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="199" />
        <source>The server cannot be used with this version of FileSync: %1.</source>
        <translation>Der Server kann mit dieser Version von FileSync nicht verwendet werden: %1.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="268" />
        <source>The server sent an invalid account ID.</source>
        <translation>Der Server hat eine ungültige Konto-ID gesendet.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="396" />
        <source>Stopped</source>
        <translation>Angehalten</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="398" />
        <source>Connecting to %1…</source>
        <translation>Verbinde mit %1…</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="400" />
        <source>Up to date</source>
        <translation>Aktuell</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="402" />
        <source>Paused</source>
        <translation>Pausiert</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="404" />
        <source>Offline, retrying in %1 s</source>
        <translation>Offline, neuer Versuch in %1 s</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="406" />
        <source>Stopped: %1</source>
        <translation>Angehalten: %1</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="411" />
        <source>Syncing…</source>
        <translation>Synchronisiere…</translation>
    </message>
    <message numerus="yes">
        <location filename="../desktop/engine/syncengine.cpp" line="412" />
        <source>Syncing %n file(s), %1 left</source>
        <translation><numerusform>Synchronisiere %n Datei, %1 übrig</numerusform><numerusform>Synchronisiere %n Dateien, %1 übrig</numerusform></translation>
    </message>
</context>
<context>
    <name>filesync::TrayIcon</name>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="25" />
        <source>Conflict in %1</source>
        <translation>Konflikt bei %1</translation>
    </message>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="26" />
        <source>%1 was changed on two computers. Both versions are kept: the other computer's at %1, this computer's as %2.</source>
        <translation>%1 wurde auf zwei Rechnern geändert. Beide Fassungen bleiben erhalten: die des anderen Rechners unter %1, die dieses Rechners als %2.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="32" />
        <source>FileSync</source>
        <translation>FileSync</translation>
    </message>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="34" />
        <source>FileSync needs your attention</source>
        <translation>FileSync braucht Ihre Aufmerksamkeit</translation>
    </message>
</context>
</TS>