#include "appactions.h"
#include "appsettings.h"
#include "autostart.h"
#include "localization.h"
#include "settingsdialog.h"
#include "singleinstance.h"
#include "statusmodel.h"

#include <QApplication>
#include <QFile>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

using namespace filesync;

// What surrounds the tray app: one instance per user, the autostart entry, and the
// translations (German; Hebrew turns the layout right to left).
class tst_AppShell : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanup();

    void secondStartRaisesTheFirst();
    void staleSocketIsReplaced();
    void autostartEntry_data();
    void autostartEntry();
    void germanLocaleTranslatesUiAndEngine();
    void hebrewLocaleTurnsTheLayout();
    void englishGetsItsPlurals_data();
    void englishGetsItsPlurals();
    void settingsWithTheIdArePrivate();

private:
    QTemporaryDir m_dir;
};

void tst_AppShell::initTestCase()
{
    QVERIFY(m_dir.isValid());
    qputenv("XDG_CONFIG_HOME", QFile::encodeName(m_dir.path() + QStringLiteral("/config")));
}

void tst_AppShell::cleanup()
{
    QCoreApplication::processEvents(); // let a language change reach the application
}

void tst_AppShell::secondStartRaisesTheFirst()
{
    const QString name = m_dir.path() + QStringLiteral("/instance.socket");
    SingleInstance first(name);
    QVERIFY(!first.forwardToRunning(200)); // nobody there yet
    QVERIFY(first.listen());
    QSignalSpy raised(&first, &SingleInstance::raiseRequested);

    SingleInstance second(name);
    QVERIFY(second.forwardToRunning());
    QVERIFY(raised.wait(5000));
    QCOMPARE(raised.size(), 1);
}

void tst_AppShell::staleSocketIsReplaced()
{
    // What a crash leaves: the socket's file, with nobody listening.
    const QString name = m_dir.path() + QStringLiteral("/stale.socket");
    {
        QFile leftover(name);
        QVERIFY(leftover.open(QIODevice::WriteOnly));
    }
    SingleInstance instance(name);
    QVERIFY(!instance.forwardToRunning(200));
    QVERIFY(instance.listen());
    QVERIFY(SingleInstance(name).forwardToRunning());
}

void tst_AppShell::autostartEntry_data()
{
    QTest::addColumn<QString>("executable");
    QTest::addColumn<QString>("exec");
    QTest::newRow("plain") << QStringLiteral("/usr/bin/filesync") << QStringLiteral("Exec=/usr/bin/filesync");
    QTest::newRow("space") << QStringLiteral("/opt/File Sync/filesync")
                           << QStringLiteral("Exec=\"/opt/File Sync/filesync\"");
    QTest::newRow("dollar") << QStringLiteral("/opt/$x/filesync") << QStringLiteral("Exec=\"/opt/\\\\$x/filesync\"");
}

void tst_AppShell::autostartEntry()
{
    QFETCH(QString, executable);
    QFETCH(QString, exec);
    QVERIFY(Autostart::entryPath().startsWith(m_dir.path() + QStringLiteral("/config/autostart/")));
    QVERIFY(!Autostart::isEnabled());
    QVERIFY(Autostart::setEnabled(true, executable));
    QVERIFY(Autostart::isEnabled());
    QFile entry(Autostart::entryPath());
    QVERIFY(entry.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(entry.readAll()).split(u'\n');
    QCOMPARE(lines.first(), QStringLiteral("[Desktop Entry]"));
    QVERIFY(lines.contains(QStringLiteral("Type=Application")));
    QVERIFY2(lines.contains(exec), qPrintable(lines.join(u'|')));
    QVERIFY(Autostart::setEnabled(false, executable));
    QVERIFY(!Autostart::isEnabled());
    QVERIFY(Autostart::setEnabled(false, executable)); // already off: fine
}

void tst_AppShell::germanLocaleTranslatesUiAndEngine()
{
    Localization localization;
    QVERIFY(localization.install(QLocale(QLocale::German, QLocale::Germany)));
    SettingsDialog dialog(AppSettings {}, false);
    QCOMPARE(dialog.windowTitle(), QStringLiteral("FileSync-Einstellungen"));
    QVERIFY(dialog.problems().join(u' ').contains(QStringLiteral("Adresse des Servers")));
    StatusModel model;
    AppActions actions(model);
    QCOMPARE(actions.syncNow->text(), QStringLiteral("Jetzt synchronisieren"));
    QCOMPARE(model.statusText(), QStringLiteral("Noch nicht eingerichtet"));
    // The engine's status line is translated by the same files.
    QCOMPARE(QCoreApplication::translate("filesync::SyncEngine", "Up to date"), QStringLiteral("Aktuell"));
    QCOMPARE(QCoreApplication::translate("filesync::SyncEngine", "Syncing %n file(s), %1 left", nullptr, 3),
        QStringLiteral("Synchronisiere 3 Dateien, %1 übrig"));
    QCOMPARE(StatusModel::actionText(QStringLiteral("downloaded")), QStringLiteral("heruntergeladen"));
}

void tst_AppShell::hebrewLocaleTurnsTheLayout()
{
    QCOMPARE(QGuiApplication::layoutDirection(), Qt::LeftToRight);
    {
        Localization localization;
        QVERIFY(localization.install(QLocale(QLocale::Hebrew, QLocale::Israel)));
        QTRY_COMPARE(QGuiApplication::layoutDirection(), Qt::RightToLeft);
        SettingsDialog dialog(AppSettings {}, false);
        QCOMPARE(dialog.layoutDirection(), Qt::RightToLeft);
        QCOMPARE(dialog.windowTitle(), QStringLiteral("הגדרות FileSync"));
    }
    QTRY_COMPARE(QGuiApplication::layoutDirection(), Qt::LeftToRight); // removed again
}

void tst_AppShell::englishGetsItsPlurals_data()
{
    QTest::addColumn<QLocale>("locale");
    QTest::addColumn<bool>("ownTranslation");
    QTest::newRow("English") << QLocale(QLocale::English, QLocale::UnitedStates) << true;
    QTest::newRow("French, untranslated: English") << QLocale(QLocale::French, QLocale::France) << false;
}

void tst_AppShell::englishGetsItsPlurals()
{
    QFETCH(QLocale, locale);
    QFETCH(bool, ownTranslation);
    Localization localization;
    QCOMPARE(localization.install(locale), ownTranslation);
    SettingsDialog dialog(AppSettings {}, false);
    QCOMPARE(dialog.windowTitle(), QStringLiteral("FileSync Settings"));
    QCOMPARE(QCoreApplication::translate("filesync::SyncEngine", "Syncing %n file(s), %1 left", nullptr, 1),
        QStringLiteral("Syncing 1 file, %1 left"));
    QCOMPARE(QCoreApplication::translate("filesync::SyncEngine", "Syncing %n file(s), %1 left", nullptr, 3),
        QStringLiteral("Syncing 3 files, %1 left"));
}

namespace {
mode_t modeOf(const QString &path)
{
    struct stat st;
    return ::stat(QFile::encodeName(path).constData(), &st) == 0 ? (st.st_mode & 07777) : 0;
}
} // namespace

// The settings hold the account ID, a bearer secret: never readable by others, whatever
// the umask, and a file an older build left open is fixed when it is read.
void tst_AppShell::settingsWithTheIdArePrivate()
{
    const mode_t umask = ::umask(022);
    const auto restore = qScopeGuard([umask] { ::umask(umask); });
    const QString path = m_dir.path() + QStringLiteral("/settings/filesync.conf");
    AppSettings settings;
    settings.host = QStringLiteral("127.0.0.1");
    settings.folder = m_dir.path();
    settings.accountId = QStringLiteral("abcdefghijklmnopqrstuvwxyz234567");
    {
        QSettings file(path, QSettings::IniFormat);
        settings.save(file);
    }
    QCOMPARE(modeOf(path), mode_t(0600));
    QVERIFY(::chmod(QFile::encodeName(path).constData(), 0644) == 0);
    {
        QSettings file(path, QSettings::IniFormat);
        QCOMPARE(AppSettings::load(file), settings);
        QCOMPARE(modeOf(path), mode_t(0600));
        settings.intervalSeconds = 120;
        settings.save(file); // QSettings writes a new file and renames it over the old one
    }
    QCOMPARE(modeOf(path), mode_t(0600));
}

QTEST_MAIN(tst_AppShell)
#include "tst_appshell.moc"
