#include "../integration/synctestmacros.h"
#include "appactions.h"
#include "appcontroller.h"
#include "autostart.h"
#include "journal.h"
#include "localization.h"
#include "statusmodel.h"
#include "statuswindow.h"
#include "testcluster.h"
#include "testtree.h"
#include "trayicon.h"

#include <QCheckBox>
#include <QDir>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QPointer>
#include <QRegularExpression>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace filesync;
using namespace filesync::test;

// The tray app's controls against the real engine and an in-process server.
class tst_TrayApp : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void firstStartOpensTheDialog();
    void menuOffersEveryCommand();
    void pauseStopsSyncingAndResumeCatchesUp();
    void syncNowRunsACycle();
    void statusAndIconFollowTheEngine();
    void syncingShowsProgress();
    void errorsAreShownAndNotifiedOnce();
    void recentChangesFillFromRealSyncs();
    void conflictsAreNotified();
    void unknownAccountIdIsReplacedAndTold();
    void changingTheFolderRestartsTheEngine();
    void settingsDialogAppliesItsChanges();
    void withoutATrayAStatusWindowAppears();

private:
    std::unique_ptr<AppController> makeController(AppController::Shell shell = AppController::Shell::Tray);
    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<QTemporaryDir> m_config;
    std::unique_ptr<QSettings> m_settings;
};

void tst_TrayApp::init()
{
    // Nothing here may touch the real user's configuration (the autostart entry).
    m_config = std::make_unique<QTemporaryDir>();
    qputenv("XDG_CONFIG_HOME", QFile::encodeName(m_config->path()));
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
    m_dir = std::make_unique<QTemporaryDir>();
    m_settings = std::make_unique<QSettings>(m_dir->path() + QStringLiteral("/settings.ini"), QSettings::IniFormat);
    AppSettings s;
    s.host = QStringLiteral("127.0.0.1");
    s.port = m_server->port();
    s.folder = m_dir->path() + QStringLiteral("/Sync");
    s.intervalSeconds = 3600;
    s.save(*m_settings);
}

void tst_TrayApp::cleanup()
{
    m_settings.reset();
    m_dir.reset();
    m_server.reset();
    m_config.reset();
}

std::unique_ptr<AppController> tst_TrayApp::makeController(AppController::Shell shell)
{
    auto controller = std::make_unique<AppController>(*m_settings, shell);
    controller->start();
    return controller;
}

void tst_TrayApp::firstStartOpensTheDialog()
{
    m_settings->clear();
    auto controller = makeController();
    QVERIFY(controller->settingsDialog());
    QVERIFY(controller->settingsDialog()->isVisible());
    QCOMPARE(controller->settingsDialog()->settings().folder, QDir::home().filePath(QStringLiteral("FileSync")));
    QVERIFY(!controller->engine());
    QCOMPARE(controller->model().statusText(), QStringLiteral("Not set up yet"));
}

void tst_TrayApp::menuOffersEveryCommand()
{
    auto controller = makeController();
    QStringList texts;
    for (QAction *a : controller->tray()->menu()->actions()) {
        if (!a->isSeparator())
            texts << a->text();
    }
    QCOMPARE(texts.mid(1),
        (QStringList { QStringLiteral("Open folder"), QStringLiteral("Sync now"), QStringLiteral("Pause syncing"),
            QStringLiteral("Recent changes"), QStringLiteral("Settings…"), QStringLiteral("Quit FileSync") }));
    QVERIFY(!controller->tray()->menu()->actions().first()->isEnabled()); // the status line
    QSignalSpy open(controller.get(), &AppController::openPathRequested);
    controller->actions().openFolder->trigger();
    QCOMPARE(open.size(), 1);
    QCOMPARE(open.first().first().toString(), m_dir->path() + QStringLiteral("/Sync"));
    QSignalSpy quit(controller.get(), &AppController::quitRequested);
    controller->actions().quit->trigger();
    QCOMPARE(quit.size(), 1);
}

void tst_TrayApp::pauseStopsSyncingAndResumeCatchesUp()
{
    auto controller = makeController();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    const QString account = controller->currentSettings().accountId;
    QCOMPARE(account.size(), 32); // remembered in the settings
    QCOMPARE(AppSettings::load(*m_settings).accountId, account);
    const QString folder = controller->currentSettings().folder;
    TestClient other(QStringLiteral("other"), m_server->port());
    QVERIFY(other.start(account));

    controller->actions().pause->trigger();
    QCOMPARE(controller->model().state(), EngineState::Paused);
    QCOMPARE(controller->tray()->iconName(), QStringLiteral("paused"));
    QCOMPARE(controller->actions().pause->text(), QStringLiteral("Resume syncing"));
    QCOMPARE(controller->actions().status->text(), QStringLiteral("Paused"));
    QVERIFY(!controller->actions().syncNow->isEnabled());

    QSignalSpy moved(controller->engine(), &SyncEngine::itemCompleted);
    writeFile(folder, QStringLiteral("while-paused.txt"), "held back");
    writeFile(other.root(), QStringLiteral("from-other.txt"), "waits on the server");
    // The server has the other computer's file and pushes the news to us...
    QTRY_VERIFY_WITH_TIMEOUT(other.completed(QStringLiteral("from-other.txt"), QStringLiteral("uploaded")), 10000);
    // ...and nothing moves either way while paused (a negative check needs a bound).
    QVERIFY(!moved.wait(1000));
    QVERIFY(!exists(other.root(), QStringLiteral("while-paused.txt")));
    QVERIFY(!exists(folder, QStringLiteral("from-other.txt")));
    QCOMPARE(controller->model().state(), EngineState::Paused);

    controller->actions().pause->trigger();
    QCOMPARE(controller->actions().pause->text(), QStringLiteral("Pause syncing"));
    QTRY_VERIFY_WITH_TIMEOUT(exists(other.root(), QStringLiteral("while-paused.txt")), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(exists(folder, QStringLiteral("from-other.txt")), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
}

void tst_TrayApp::syncNowRunsACycle()
{
    auto controller = makeController();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    QSignalSpy cycles(controller->engine(), &SyncEngine::cycleFinished);
    controller->actions().syncNow->trigger();
    QTRY_VERIFY(!cycles.isEmpty());
    QVERIFY(controller->model().tooltip().contains(QStringLiteral("Last sync:")));
}

void tst_TrayApp::statusAndIconFollowTheEngine()
{
    auto controller = makeController();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    QCOMPARE(controller->tray()->iconName(), QStringLiteral("idle"));
    QVERIFY(controller->tray()->icon()->toolTip().contains(QStringLiteral("Up to date")));
    QCOMPARE(controller->actions().status->text(), QStringLiteral("Up to date"));

    m_server->stop();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Offline, 10000);
    QCOMPARE(controller->tray()->iconName(), QStringLiteral("offline"));
    QVERIFY(controller->actions().status->text().startsWith(QStringLiteral("Offline, retrying in")));

    QVERIFY(m_server->start());
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    QCOMPARE(controller->tray()->iconName(), QStringLiteral("idle"));
    QVERIFY(TrayIcon::iconFor(QStringLiteral("error")).availableSizes().size() + 1 > 0);
    QVERIFY(!TrayIcon::iconFor(QStringLiteral("syncing")).pixmap(22, 22).isNull());
}

void tst_TrayApp::syncingShowsProgress()
{
    QStringList icons, texts; // before the controller: it still reports while it shuts down
    Localization english; // the plural forms ("3 files")
    english.install(QLocale(QLocale::English, QLocale::UnitedStates));
    auto controller = makeController();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    connect(&controller->model(), &StatusModel::changed, this, [&] {
        icons << controller->tray()->iconName();
        texts << controller->actions().status->text();
    });
    const QString folder = controller->currentSettings().folder;
    for (const char *name : { "a.bin", "b.bin", "c.bin" })
        writeFile(folder, QString::fromLatin1(name), QByteArray(200 * 1024, 'x'));
    QTRY_VERIFY_WITH_TIMEOUT(controller->model().recent().size() == 3, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    QVERIFY2(icons.contains(QStringLiteral("syncing")), qPrintable(icons.join(u',')));
    QCOMPARE(icons.last(), QStringLiteral("idle"));
    const QRegularExpression progress(QStringLiteral("^Syncing [1-3] files?, .+ left$"));
    QVERIFY2(texts.indexOf(progress) >= 0, qPrintable(texts.join(u'|')));
    QCOMPARE(texts.last(), QStringLiteral("Up to date"));
    QCOMPARE(controller->tray()->notificationCount(), 0); // routine syncs are not notified
}

void tst_TrayApp::errorsAreShownAndNotifiedOnce()
{
    auto controller = makeController();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    const QString folder = controller->currentSettings().folder;
    // The folder's FileSync data vanishes (a careless cleanup): the engine must stop
    // rather than guess, and the user must hear about it.
    QVERIFY(QDir(Journal::metadataDir(folder)).removeRecursively());
    controller->actions().syncNow->trigger();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Error, 10000);
    QCOMPARE(controller->tray()->iconName(), QStringLiteral("error"));
    QVERIFY(controller->actions().status->text().startsWith(QStringLiteral("Stopped: ")));
    QCOMPARE(controller->tray()->notificationCount(), 1);
    QVERIFY(controller->tray()->lastNotification().startsWith(QStringLiteral("FileSync needs your attention")));
    QVERIFY(controller->tray()->lastNotification().contains(QStringLiteral("disappeared")));

    // "Sync now" after an error starts the folder again.
    QVERIFY(controller->actions().syncNow->isEnabled());
    controller->actions().syncNow->trigger();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    QCOMPARE(controller->tray()->iconName(), QStringLiteral("idle"));
}

void tst_TrayApp::recentChangesFillFromRealSyncs()
{
    auto controller = makeController();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    TestClient other(QStringLiteral("other"), m_server->port());
    QVERIFY(other.start(controller->currentSettings().accountId));
    writeFile(other.root(), QStringLiteral("docs/from-other.txt"), "hi");
    // The folder "docs" may be listed before the file in it: wait for the file's item.
    const auto findItem = [&controller]() -> QAction * {
        for (QAction *a : controller->actions().recentMenu->actions()) {
            if (a->text().contains(QStringLiteral("docs/from-other.txt")))
                return a;
        }
        return nullptr;
    };
    QTRY_VERIFY_WITH_TIMEOUT(findItem() != nullptr, 10000);
    QVERIFY(controller->model().recent().size() >= 1);
    QAction *item = findItem();
    QVERIFY(item->text().startsWith(QStringLiteral("↓")));
    QSignalSpy open(controller.get(), &AppController::openPathRequested);
    item->trigger();
    QCOMPARE(open.first().first().toString(), controller->currentSettings().folder + QStringLiteral("/docs"));
}

void tst_TrayApp::conflictsAreNotified()
{
    auto controller = makeController();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    const QString folder = controller->currentSettings().folder;
    TestClient other(QStringLiteral("other"), m_server->port());
    QVERIFY(other.start(controller->currentSettings().accountId));
    controller->actions().pause->trigger();
    writeFile(folder, QStringLiteral("plan.txt"), "ours");
    writeFile(other.root(), QStringLiteral("plan.txt"), "theirs, longer");
    QTRY_VERIFY_WITH_TIMEOUT(other.completed(QStringLiteral("plan.txt"), QStringLiteral("uploaded")), 10000);
    controller->actions().pause->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(controller->tray()->lastNotification().contains(QStringLiteral("plan.txt")), 10000);
    QVERIFY(controller->tray()->lastNotification().contains(QStringLiteral("conflict from")));
    QTRY_TREES_EQUAL(folder, other.root());
    QCOMPARE(readFile(folder, QStringLiteral("plan.txt")), QByteArray("theirs, longer"));
}

void tst_TrayApp::unknownAccountIdIsReplacedAndTold()
{
    // An ID the server never issued: the engine creates a new account (the assignment's
    // rule), the tray says so, and the settings keep the new ID.
    AppSettings s = AppSettings::load(*m_settings);
    s.accountId = QStringLiteral("abcdefghijklmnopqrstuvwxyz234567");
    s.save(*m_settings);
    auto controller = makeController();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    QVERIFY(controller->tray()->lastNotification().contains(QStringLiteral("does not know this account ID")));
    const QString created = controller->currentSettings().accountId;
    QCOMPARE(created.size(), 32);
    QVERIFY(created != s.accountId);
    QCOMPARE(AppSettings::load(*m_settings).accountId, created);
}

void tst_TrayApp::changingTheFolderRestartsTheEngine()
{
    auto controller = makeController();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    writeFile(controller->currentSettings().folder, QStringLiteral("kept.txt"), "kept");
    QTRY_VERIFY_WITH_TIMEOUT(controller->model().recent().size() >= 1, 10000);
    SyncEngine *before = controller->engine();
    AppSettings s = controller->currentSettings();
    s.folder = m_dir->path() + QStringLiteral("/Second");
    controller->applySettings(s);
    QVERIFY(controller->engine() != before);
    QCOMPARE(controller->engine()->config().folder, s.folder);
    QTRY_VERIFY_WITH_TIMEOUT(exists(s.folder, QStringLiteral("kept.txt")), 10000); // same account, new folder
    QCOMPARE(AppSettings::load(*m_settings).folder, s.folder);
}

void tst_TrayApp::settingsDialogAppliesItsChanges()
{
    auto controller = makeController();
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);
    SyncEngine *before = controller->engine();
    QPointer<SyncEngine> watch(before);

    // Cancel changes nothing.
    controller->actions().settings->trigger();
    QVERIFY(controller->settingsDialog());
    controller->settingsDialog()->findChild<QLineEdit *>(QStringLiteral("host"))->setText(QStringLiteral("elsewhere"));
    controller->settingsDialog()->reject();
    QTRY_VERIFY(!controller->settingsDialog());
    QCOMPARE(controller->engine(), before);
    QCOMPARE(controller->currentSettings().host, QStringLiteral("127.0.0.1"));

    // OK with another folder restarts the engine on it; the old one is gone.
    controller->actions().settings->trigger();
    const QString second = m_dir->path() + QStringLiteral("/Second");
    controller->settingsDialog()->findChild<QLineEdit *>(QStringLiteral("folder"))->setText(second);
    QVERIFY(!Autostart::isEnabled());
    controller->settingsDialog()->findChild<QCheckBox *>(QStringLiteral("autostart"))->setChecked(true);
    controller->settingsDialog()->accept();
    QVERIFY(watch.isNull());
    QCOMPARE(controller->engine()->config().folder, second);
    QCOMPARE(AppSettings::load(*m_settings).folder, second);
    QVERIFY(Autostart::isEnabled()); // in this test's own XDG_CONFIG_HOME
    QTRY_COMPARE_WITH_TIMEOUT(controller->model().state(), EngineState::Idle, 10000);

    // Only autostart changes: the engine keeps running.
    QTRY_VERIFY(!controller->settingsDialog());
    watch = controller->engine();
    controller->actions().settings->trigger();
    QVERIFY(controller->settingsDialog()->findChild<QCheckBox *>(QStringLiteral("autostart"))->isChecked());
    controller->settingsDialog()->findChild<QCheckBox *>(QStringLiteral("autostart"))->setChecked(false);
    controller->settingsDialog()->accept();
    QCOMPARE(controller->engine(), watch.data()); // nothing the engine uses changed
    QVERIFY(!Autostart::isEnabled());
}

void tst_TrayApp::withoutATrayAStatusWindowAppears()
{
    auto controller = makeController(AppController::Shell::Window);
    QVERIFY(!controller->tray());
    QVERIFY(controller->window());
    QVERIFY(controller->window()->isVisible());
    QTRY_VERIFY_WITH_TIMEOUT(controller->window()->statusText().contains(QStringLiteral("Up to date")), 10000);
    const QString folder = controller->currentSettings().folder;
    writeFile(folder, QStringLiteral("shown.txt"), "x");
    auto *recent = controller->window()->findChild<QListWidget *>(QStringLiteral("recent"));
    QVERIFY(recent);
    QTRY_COMPARE_WITH_TIMEOUT(recent->count(), 1, 10000);
    QVERIFY(recent->item(0)->text().startsWith(QStringLiteral("↑ shown.txt  (uploaded, ")));
    // No notifications without a tray: what needs attention stays in the window.
    QVERIFY(controller->window()->noticeText().isEmpty());
    QVERIFY(QDir(Journal::metadataDir(folder)).removeRecursively());
    controller->actions().syncNow->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(controller->window()->noticeText().contains(QStringLiteral("disappeared")), 10000);
}

QTEST_MAIN(tst_TrayApp)
#include "tst_trayapp.moc"
