#include "appsettings.h"
#include "settingsdialog.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

using namespace filesync;

namespace {
template<typename T> T *child(QWidget &w, const char *name)
{
    T *c = w.findChild<T *>(QString::fromLatin1(name));
    if (!c)
        qFatal("no child %s", name);
    return c;
}

bool okEnabled(SettingsDialog &d)
{
    return d.findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok)->isEnabled();
}
} // namespace

class tst_SettingsDialog : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void validation_data();
    void validation();
    void persistsAndReloads();
    void knownAccountIsReadOnlyWithCopy();
    void serverProbe();

private:
    QTemporaryDir m_dir;
};

void tst_SettingsDialog::validation_data()
{
    QTest::addColumn<QString>("host");
    QTest::addColumn<QString>("folder");
    QTest::addColumn<bool>("existing");
    QTest::addColumn<QString>("id");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<QString>("message");

    const QString ok = m_dir.path();
    const QString good = QStringLiteral("abcdefghijklmnopqrstuvwxyz234567");
    QTest::newRow("all good, new account") << "server.lan" << ok << false << QString() << true << QString();
    QTest::newRow("all good, existing ID") << "10.0.0.2" << ok << true << good << true << QString();
    QTest::newRow("ID typed in groups, upper case")
        << "h" << ok << true << QStringLiteral("ABCDEFGH-IJKLMNOP QRSTUVWX-YZ234567") << true << QString();
    QTest::newRow("no host") << "" << ok << false << QString() << false << QStringLiteral("server's name");
    QTest::newRow("host with a space") << "my server" << ok << false << QString() << false << QStringLiteral("spaces");
    QTest::newRow("no folder") << "h"
                               << "" << false << QString() << false << QStringLiteral("Choose the folder");
    QTest::newRow("folder is a file") << "h" << ok + QStringLiteral("/file") << false << QString() << false
                                      << QStringLiteral("not a writable folder");
    QTest::newRow("folder cannot be created") << "h" << QStringLiteral("/proc/nope/sync") << false << QString() << false
                                              << QStringLiteral("cannot be created");
    QTest::newRow("new folder in a writable parent")
        << "h" << ok + QStringLiteral("/new") << false << QString() << true << QString();
    QTest::newRow("malformed ID") << "h" << ok << true << QStringLiteral("hello") << false
                                  << QStringLiteral("account ID is not valid");
    QTest::newRow("ID with a bad letter") << "h" << ok << true << QStringLiteral("abcdefghijklmnopqrstuvwxyz234561")
                                          << false << QStringLiteral("account ID is not valid");
}

void tst_SettingsDialog::validation()
{
    QFETCH(QString, host);
    QFETCH(QString, folder);
    QFETCH(bool, existing);
    QFETCH(QString, id);
    QFETCH(bool, valid);
    QFETCH(QString, message);
    QFile file(m_dir.path() + QStringLiteral("/file"));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.close();

    SettingsDialog d(AppSettings {}, false);
    QVERIFY(!okEnabled(d)); // nothing entered yet
    child<QLineEdit>(d, "host")->setText(host);
    child<QLineEdit>(d, "folder")->setText(folder);
    child<QRadioButton>(d, existing ? "existingAccount" : "newAccount")->setChecked(true);
    child<QLineEdit>(d, "accountEdit")->setText(id);
    QCOMPARE(okEnabled(d), valid);
    const QString shown = child<QLabel>(d, "problems")->text();
    if (valid)
        QVERIFY(shown.isEmpty());
    else
        QVERIFY2(shown.contains(message), qPrintable(shown));
    if (valid && existing)
        QCOMPARE(d.settings().accountId, QStringLiteral("abcdefghijklmnopqrstuvwxyz234567"));
}

void tst_SettingsDialog::persistsAndReloads()
{
    QSettings store(m_dir.path() + QStringLiteral("/settings.ini"), QSettings::IniFormat);
    SettingsDialog d(AppSettings::load(store), false);
    child<QLineEdit>(d, "host")->setText(QStringLiteral("box.example"));
    child<QSpinBox>(d, "port")->setValue(9000);
    child<QLineEdit>(d, "folder")->setText(m_dir.path());
    QCOMPARE(child<QSpinBox>(d, "interval")->minimum(), 5);
    QCOMPARE(child<QSpinBox>(d, "interval")->maximum(), 86400);
    QCOMPARE(child<QSpinBox>(d, "port")->minimum(), 1);
    QCOMPARE(child<QSpinBox>(d, "port")->maximum(), 65535);
    child<QSpinBox>(d, "interval")->setValue(1); // below the minimum: clamped
    QVERIFY(okEnabled(d));
    d.settings().save(store);

    QSettings again(m_dir.path() + QStringLiteral("/settings.ini"), QSettings::IniFormat);
    const AppSettings loaded = AppSettings::load(again);
    QCOMPARE(loaded.host, QStringLiteral("box.example"));
    QCOMPARE(loaded.port, quint16(9000));
    QCOMPARE(loaded.folder, m_dir.path());
    QCOMPARE(loaded.intervalSeconds, AppSettings::kMinInterval);
    QVERIFY(loaded.accountId.isEmpty());
}

void tst_SettingsDialog::knownAccountIsReadOnlyWithCopy()
{
    AppSettings s;
    s.host = QStringLiteral("h");
    s.folder = m_dir.path();
    s.accountId = QStringLiteral("abcdefghijklmnopqrstuvwxyz234567");
    SettingsDialog d(s, false);
    d.show();
    auto *known = child<QLineEdit>(d, "knownAccount");
    QVERIFY(known->isReadOnly());
    QVERIFY(known->isVisible());
    QCOMPARE(known->text(), s.accountId);
    QVERIFY(!child<QLineEdit>(d, "accountEdit")->isVisible());
    QTest::mouseClick(child<QPushButton>(d, "copy"), Qt::LeftButton);
    QCOMPARE(QGuiApplication::clipboard()->text(), s.accountId);
    QCOMPARE(d.settings().accountId, s.accountId);
    // Switching to another account asks for a choice again.
    child<QCheckBox>(d, "changeAccount")->setChecked(true);
    QVERIFY(child<QLineEdit>(d, "accountEdit")->isVisible());
    child<QRadioButton>(d, "newAccount")->setChecked(true);
    QVERIFY(d.settings().accountId.isEmpty());
}

void tst_SettingsDialog::serverProbe()
{
    QTcpServer listening;
    QVERIFY(listening.listen(QHostAddress::LocalHost, 0));
    AppSettings s;
    s.host = QStringLiteral("127.0.0.1");
    s.port = listening.serverPort();
    s.folder = m_dir.path();
    SettingsDialog d(s, false);
    QSignalSpy probed(&d, &SettingsDialog::probed);
    QVERIFY(probed.wait(5000));
    QCOMPARE(probed.last().first().toBool(), true);
    QVERIFY(d.reachability().contains(QStringLiteral("answers")));

    listening.close();
    child<QSpinBox>(d, "port")->setValue(s.port); // same port, now closed: probe again
    child<QLineEdit>(d, "host")->setText(QStringLiteral("127.0.0.1 "));
    QVERIFY(probed.wait(5000));
    QCOMPARE(probed.last().first().toBool(), false);
    QVERIFY(d.reachability().contains(QStringLiteral("does not answer")));
    QVERIFY(okEnabled(d)); // unreachable is a warning: one may set up while offline

    // A host that never answers (TEST-NET-1): the verdict comes within the probe's timeout
    // (or at once where the network says it is unreachable).
    d.setProbeTimeoutMs(300);
    child<QLineEdit>(d, "host")->setText(QStringLiteral("192.0.2.1"));
    QVERIFY(probed.wait(5000));
    QCOMPARE(probed.last().first().toBool(), false);
    QVERIFY(d.reachability().contains(QStringLiteral("192.0.2.1 does not answer")));

    // No host, no probe and no line.
    const int verdicts = probed.size();
    child<QLineEdit>(d, "host")->clear();
    QTRY_VERIFY(d.reachability().isEmpty());
    QCOMPARE(probed.size(), verdicts);
}

QTEST_MAIN(tst_SettingsDialog)
#include "tst_settingsdialog.moc"
