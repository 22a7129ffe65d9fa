<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="he_IL">
<context>
    <name>QGuiApplication</name>
    <message>
        <location filename="../desktop/ui/localization.cpp" line="14" />
        <source>QT_LAYOUT_DIRECTION</source>
        <comment>Translate this string to the string 'LTR' in left-to-right languages or to 'RTL' in right-to-left languages (such as Hebrew and Arabic) to get proper widget layout.</comment>
        <translation>RTL</translation>
    </message>
</context>
<context>
    <name>filesync::AppActions</name>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="12" />
        <source>Open folder</source>
        <translation>פתח תיקייה</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="13" />
        <source>Sync now</source>
        <translation>סנכרן עכשיו</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="14" />
        <location filename="../desktop/ui/appactions.cpp" line="55" />
        <source>Pause syncing</source>
        <translation>השהה סנכרון</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="15" />
        <source>Settings…</source>
        <translation>הגדרות…</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="16" />
        <source>Quit FileSync</source>
        <translation>צא מ-FileSync</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="17" />
        <source>Recent changes</source>
        <translation>שינויים אחרונים</translation>
    </message>
    <message>
        <location filename="../desktop/ui/appactions.cpp" line="55" />
        <source>Resume syncing</source>
        <translation>המשך סנכרון</translation>
    </message>
</context>
<context>
    <name>filesync::ChangeAggregator</name>
    <message>
        <location filename="../desktop/engine/changeaggregator.cpp" line="44" />
        <source>Live change detection is unavailable (%1); changes are found by the periodic scan.</source>
        <translation>זיהוי שינויים מיידי אינו זמין (%1); שינויים יימצאו בסריקה התקופתית.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/changeaggregator.cpp" line="93" />
        <source>The system allows no more folder watches (fs.inotify.max_user_watches); some changes will only be found by the periodic scan.</source>
        <translation>המערכת אינה מתירה מעקב אחר תיקיות נוספות (fs.inotify.max_user_watches); חלק מהשינויים יימצאו רק בסריקה התקופתית.</translation>
    </message>
</context>
<context>
    <name>filesync::Propagator</name>
    <message>
        <location filename="../desktop/engine/propagator.cpp" line="64" />
        <source>The server refused %1: %2</source>
        <translation>השרת דחה את %1: %2</translation>
    </message>
</context>
<context>
    <name>filesync::SettingsDialog</name>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="30" />
        <source>Create a new account</source>
        <translation>צור חשבון חדש</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="31" />
        <source>Use an existing account ID:</source>
        <translation>השתמש במזהה חשבון קיים:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="34" />
        <source>Copy</source>
        <translation>העתק</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="35" />
        <source>Use a different account</source>
        <translation>השתמש בחשבון אחר</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="37" />
        <source>Start FileSync when I log in</source>
        <translation>הפעל את FileSync בכניסה למערכת</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="43" />
        <source>FileSync Settings</source>
        <translation>הגדרות FileSync</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="45" />
        <source>server name or address</source>
        <translation>שם או כתובת השרת</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="51" />
        <source>32 letters and digits</source>
        <translation>32 אותיות וספרות</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="61" />
        <source> s</source>
        <translation> שנ׳</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="76" />
        <source>Choose…</source>
        <translation>בחר…</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="90" />
        <source>Server:</source>
        <translation>שרת:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="91" />
        <source>Port:</source>
        <translation>פורט:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="93" />
        <source>Folder:</source>
        <translation>תיקייה:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="94" />
        <source>Account:</source>
        <translation>חשבון:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="95" />
        <source>Full rescan every:</source>
        <translation>סריקה מלאה כל:</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="131" />
        <source>Folder to keep in sync</source>
        <translation>התיקייה לסנכרון</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="162" />
        <source>Enter the server's name or address.</source>
        <translation>הזן את שם השרת או את כתובתו.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="164" />
        <source>The server name cannot contain spaces or slashes.</source>
        <translation>שם השרת אינו יכול להכיל רווחים או לוכסנים.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="168" />
        <source>Choose the folder to keep in sync.</source>
        <translation>בחר את התיקייה לסנכרון.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="170" />
        <source>The folder %1 is not a writable folder.</source>
        <translation>התיקייה %1 אינה תיקייה שניתן לכתוב בה.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="172" />
        <source>The folder %1 does not exist and cannot be created.</source>
        <translation>התיקייה %1 אינה קיימת ולא ניתן ליצור אותה.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="178" />
        <source>The account ID is not valid: it has %1 letters a–z and digits 2–7 (dashes and spaces are ignored).</source>
        <translation>מזהה החשבון אינו תקין: הוא מורכב מ-%1 אותיות a–z וספרות 2–7 (מקפים ורווחים אינם נחשבים).</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="214" />
        <source>Checking %1:%2…</source>
        <translation>בודק את %1:%2…</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="224" />
        <source>The server answers.</source>
        <translation>השרת עונה.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="225" />
        <source>The server %1 does not answer (%2); FileSync will keep trying.</source>
        <translation>השרת %1 אינו עונה (%2); FileSync ימשיך לנסות.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/settingsdialog.cpp" line="236" />
        <source>no answer in %1 s</source>
        <translation>אין תשובה תוך %1 שנ׳</translation>
    </message>
</context>
<context>
    <name>filesync::StatusModel</name>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="37" />
        <source>Conflict: %1 was changed on two computers; this computer's version is kept as %2.</source>
        <translation>התנגשות: %1 שונה בשני מחשבים; הגרסה של מחשב זה נשמרה בשם %2.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="55" />
        <source>%1: %2</source>
        <translation>%1: %2</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="73" />
        <source>Not set up yet</source>
        <translation>עדיין לא הוגדר</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="79" />
        <source>FileSync: %1</source>
        <translation>FileSync: %1</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="86" />
        <source>Last sync: %1</source>
        <translation>סנכרון אחרון: %1</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="117" />
        <source>uploaded</source>
        <translation>הועלה</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="119" />
        <source>downloaded</source>
        <translation>הורד</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="121" />
        <source>deleted</source>
        <translation>נמחק</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="123" />
        <source>moved</source>
        <translation>הועבר</translation>
    </message>
    <message>
        <location filename="../desktop/ui/statusmodel.cpp" line="125" />
        <source>conflict copy</source>
        <translation>עותק התנגשות</translation>
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
        <translation>שינויים אחרונים</translation>
    </message>
</context>
<context>
    <name>filesync::SyncCycle</name>
    <message>
        <location filename="../desktop/engine/synccycle.cpp" line="77" />
        <source>The folder's FileSync data (%1) disappeared; syncing stopped so nothing is deleted.</source>
        <translation>נתוני FileSync של התיקייה (%1) נעלמו; הסנכרון נעצר כדי ששום דבר לא יימחק.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/synccycle.cpp" line="103" />
        <source>The server could not list the changes: %1</source>
        <translation>השרת לא הצליח לפרט את השינויים: %1</translation>
    </message>
    <message>
        <location filename="../desktop/engine/synccycle.cpp" line="111" />
        <source>The server's list of changes does not advance; trying again later.</source>
        <translation>רשימת השינויים של השרת אינה מתקדמת; ננסה שוב מאוחר יותר.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/synccycle.cpp" line="132" />
        <source>Cannot write the sync journal (%1); syncing stopped.</source>
        <translation>לא ניתן לכתוב את יומן הסנכרון (%1); הסנכרון נעצר.</translation>
    </message>
</context>
<context>
    <name>filesync::SyncEngine</name>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="123" />
        <source>The folder %1 does not exist.</source>
        <translation>התיקייה %1 אינה קיימת.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="248" />
        <source>The server does not know this account ID; a new account is created.</source>
        <translation>השרת אינו מכיר את מזהה החשבון; נוצר חשבון חדש.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="306" />
        <source>The folder's FileSync data (%1) disappeared; syncing stopped so nothing is deleted.</source>
        <translation>נתוני FileSync של התיקייה (%1) נעלמו; הסנכרון נעצר כדי ששום דבר לא יימחק.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="274" />
        <source>Cannot write the sync journal (%1); syncing stopped.</source>
        <translation>לא ניתן לכתוב את יומן הסנכרון (%1); הסנכרון נעצר.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="134" />
        <source>The server did not know the account ID given for this folder, so it got a new account earlier; it keeps syncing with that one.</source>
        <translation>השרת לא הכיר את מזהה החשבון שניתן לתיקייה זו, ולכן נוצר עבורה קודם לכן חשבון חדש; הסנכרון ממשיך עם חשבון זה.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="139" />
        <source>The folder %1 belongs to another account; choose an empty folder for this one.</source>
        <translation>התיקייה %1 שייכת לחשבון אחר; בחר תיקייה ריקה עבור חשבון זה.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="199" />
        <source>The server cannot be used with this version of FileSync: %1.</source>
        <translation>לא ניתן להשתמש בשרת עם גרסה זו של FileSync: %1.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="268" />
        <source>The server sent an invalid account ID.</source>
        <translation>השרת שלח מזהה חשבון לא תקין.</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="396" />
        <source>Stopped</source>
        <translation>נעצר</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="398" />
        <source>Connecting to %1…</source>
        <translation>מתחבר אל %1…</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="400" />
        <source>Up to date</source>
        <translation>מעודכן</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="402" />
        <source>Paused</source>
        <translation>מושהה</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="404" />
        <source>Offline, retrying in %1 s</source>
        <translation>לא מקוון, ניסיון נוסף בעוד %1 שנ׳</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="406" />
        <source>Stopped: %1</source>
        <translation>נעצר: %1</translation>
    </message>
    <message>
        <location filename="../desktop/engine/syncengine.cpp" line="411" />
        <source>Syncing…</source>
        <translation>מסנכרן…</translation>
    </message>
    <message numerus="yes">
        <location filename="../desktop/engine/syncengine.cpp" line="412" />
        <source>Syncing %n file(s), %1 left</source>
        <translation><numerusform>מסנכרן קובץ אחד, נותרו %1</numerusform><numerusform>מסנכרן %n קבצים, נותרו %1</numerusform></translation>
    </message>
</context>
<context>
    <name>filesync::TrayIcon</name>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="25" />
        <source>Conflict in %1</source>
        <translation>התנגשות ב-%1</translation>
    </message>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="26" />
        <source>%1 was changed on two computers. Both versions are kept: the other computer's at %1, this computer's as %2.</source>
        <translation>%1 שונה בשני מחשבים. שתי הגרסאות נשמרו: זו של המחשב האחר ב-%1, וזו של מחשב זה בשם %2.</translation>
    </message>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="32" />
        <source>FileSync</source>
        <translation>FileSync</translation>
    </message>
    <message>
        <location filename="../desktop/ui/trayicon.cpp" line="34" />
        <source>FileSync needs your attention</source>
        <translation>FileSync זקוק לתשומת לבך</translation>
    </message>
</context>
</TS>