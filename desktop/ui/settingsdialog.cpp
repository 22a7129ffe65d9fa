#include "settingsdialog.h"

#include "accountid.h"

#include <QCheckBox>
#include <QClipboard>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QTcpSocket>
#include <QVBoxLayout>

namespace filesync {

SettingsDialog::SettingsDialog(const AppSettings &settings, bool autostart, QWidget *parent)
    : QDialog(parent)
    , m_initial(settings)
    , m_host(new QLineEdit(settings.host, this))
    , m_port(new QSpinBox(this))
    , m_folder(new QLineEdit(settings.folder, this))
    , m_newAccount(new QRadioButton(tr("Create a new account"), this))
    , m_existingAccount(new QRadioButton(tr("Use an existing account ID:"), this))
    , m_accountEdit(new QLineEdit(this))
    , m_knownAccount(new QLineEdit(settings.accountId, this))
    , m_copy(new QPushButton(tr("Copy"), this))
    , m_changeAccount(new QCheckBox(tr("Use a different account"), this))
    , m_interval(new QSpinBox(this))
    , m_autostart(new QCheckBox(tr("Start FileSync when I log in"), this))
    , m_problems(new QLabel(this))
    , m_reachability(new QLabel(this))
    , m_form(new QFormLayout)
    , m_buttons(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this))
{
    setWindowTitle(tr("FileSync Settings"));
    m_host->setObjectName(QStringLiteral("host"));
    m_host->setPlaceholderText(tr("server name or address"));
    m_port->setObjectName(QStringLiteral("port"));
    m_port->setRange(1, 65535);
    m_port->setValue(settings.port);
    m_folder->setObjectName(QStringLiteral("folder"));
    m_accountEdit->setObjectName(QStringLiteral("accountEdit"));
    m_accountEdit->setPlaceholderText(tr("32 letters and digits"));
    m_knownAccount->setObjectName(QStringLiteral("knownAccount"));
    m_knownAccount->setReadOnly(true);
    m_copy->setObjectName(QStringLiteral("copy"));
    m_newAccount->setObjectName(QStringLiteral("newAccount"));
    m_existingAccount->setObjectName(QStringLiteral("existingAccount"));
    m_changeAccount->setObjectName(QStringLiteral("changeAccount"));
    m_interval->setObjectName(QStringLiteral("interval"));
    m_interval->setRange(AppSettings::kMinInterval, AppSettings::kMaxInterval);
    m_interval->setValue(settings.intervalSeconds);
    m_interval->setSuffix(tr(" s"));
    m_autostart->setObjectName(QStringLiteral("autostart"));
    m_autostart->setChecked(autostart);
    m_problems->setObjectName(QStringLiteral("problems"));
    m_problems->setStyleSheet(QStringLiteral("color: #c8322f"));
    m_problems->setWordWrap(true);
    m_reachability->setObjectName(QStringLiteral("reachability"));
    m_reachability->setWordWrap(true);

    // Wide enough for a whole account ID and a usual folder path.
    const int wide = m_knownAccount->fontMetrics().horizontalAdvance(QStringLiteral("abcdefghijklmnopqrstuvwxyz234567"))
        + 4 * m_knownAccount->fontMetrics().averageCharWidth();
    for (QLineEdit *edit : { m_host, m_folder, m_accountEdit, m_knownAccount })
        edit->setMinimumWidth(wide);

    auto *browse = new QPushButton(tr("Choose…"), this);
    auto *folderRow = new QHBoxLayout;
    folderRow->addWidget(m_folder, 1);
    folderRow->addWidget(browse);
    auto *knownRow = new QHBoxLayout;
    knownRow->addWidget(m_knownAccount, 1);
    knownRow->addWidget(m_copy);
    auto *accountBox = new QVBoxLayout;
    accountBox->addLayout(knownRow);
    accountBox->addWidget(m_changeAccount);
    accountBox->addWidget(m_newAccount);
    accountBox->addWidget(m_existingAccount);
    accountBox->addWidget(m_accountEdit);

    m_form->addRow(tr("Server:"), m_host);
    m_form->addRow(tr("Port:"), m_port);
    m_form->addRow(QString(), m_reachability);
    m_form->addRow(tr("Folder:"), folderRow);
    m_form->addRow(tr("Account:"), accountBox);
    m_form->addRow(tr("Full rescan every:"), m_interval);
    m_form->addRow(QString(), m_autostart);
    m_form->setRowVisible(m_reachability, false); // until a probe has something to say
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(m_form);
    layout->addWidget(m_problems);
    layout->addWidget(m_buttons);

    const bool known = !settings.accountId.isEmpty();
    m_knownAccount->setVisible(known);
    m_copy->setVisible(known);
    m_changeAccount->setVisible(known);
    m_newAccount->setChecked(!known);
    connect(
        m_copy, &QPushButton::clicked, this, [this] { QGuiApplication::clipboard()->setText(m_knownAccount->text()); });
    connect(browse, &QPushButton::clicked, this, &SettingsDialog::chooseFolder);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    for (QLineEdit *edit : { m_host, m_folder, m_accountEdit })
        connect(edit, &QLineEdit::textChanged, this, &SettingsDialog::validate);
    for (QAbstractButton *b :
        std::initializer_list<QAbstractButton *> { m_newAccount, m_existingAccount, m_changeAccount })
        connect(b, &QAbstractButton::toggled, this, &SettingsDialog::validate);
    connect(m_port, &QSpinBox::valueChanged, this, &SettingsDialog::validate);
    m_probeDelay.setSingleShot(true);
    m_probeDelay.setInterval(300);
    connect(&m_probeDelay, &QTimer::timeout, this, &SettingsDialog::startProbe);
    connect(m_host, &QLineEdit::textChanged, &m_probeDelay, qOverload<>(&QTimer::start));
    connect(m_port, &QSpinBox::valueChanged, &m_probeDelay, qOverload<>(&QTimer::start));
    validate();
    if (!settings.host.isEmpty())
        m_probeDelay.start();
}

void SettingsDialog::chooseFolder()
{
    const QString chosen = QFileDialog::getExistingDirectory(this, tr("Folder to keep in sync"), m_folder->text());
    if (!chosen.isEmpty())
        m_folder->setText(chosen);
}

AppSettings SettingsDialog::settings() const
{
    AppSettings s;
    s.host = m_host->text().trimmed();
    s.port = quint16(m_port->value());
    s.folder = m_folder->text().trimmed().isEmpty() ? QString() : QDir(m_folder->text().trimmed()).absolutePath();
    s.intervalSeconds = m_interval->value();
    const bool choosing = m_initial.accountId.isEmpty() || m_changeAccount->isChecked();
    if (!choosing)
        s.accountId = m_initial.accountId;
    else if (m_existingAccount->isChecked())
        s.accountId = AccountId::parse(m_accountEdit->text()).ok() ? AccountId::parse(m_accountEdit->text())->toString()
                                                                   : QString();
    return s;
}

bool SettingsDialog::autostart() const
{
    return m_autostart->isChecked();
}

QStringList SettingsDialog::problems() const
{
    QStringList problems;
    const QString host = m_host->text().trimmed();
    if (host.isEmpty())
        problems << tr("Enter the server's name or address.");
    else if (host.contains(u' ') || host.contains(u'/'))
        problems << tr("The server name cannot contain spaces or slashes.");
    const QString folder = m_folder->text().trimmed();
    const QFileInfo info(folder);
    if (folder.isEmpty()) {
        problems << tr("Choose the folder to keep in sync.");
    } else if (info.exists() && (!info.isDir() || !info.isWritable())) {
        problems << tr("The folder %1 is not a writable folder.").arg(folder);
    } else if (!info.exists() && !QFileInfo(info.absolutePath()).isWritable()) {
        problems << tr("The folder %1 does not exist and cannot be created.").arg(folder);
    }
    const bool choosing = m_initial.accountId.isEmpty() || m_changeAccount->isChecked();
    if (choosing && m_existingAccount->isChecked()) {
        // AccountId decides; its reason is for logs, the user gets the rule in their language.
        if (!AccountId::parse(m_accountEdit->text()))
            problems << tr("The account ID is not valid: it has %1 letters a–z and digits 2–7 (dashes and spaces "
                           "are ignored).")
                            .arg(AccountId::kChars);
    }
    return problems;
}

QString SettingsDialog::reachability() const
{
    return m_reachability->text();
}

void SettingsDialog::validate()
{
    const bool choosing = m_initial.accountId.isEmpty() || m_changeAccount->isChecked();
    m_newAccount->setVisible(choosing);
    m_existingAccount->setVisible(choosing);
    m_accountEdit->setVisible(choosing);
    m_accountEdit->setEnabled(m_existingAccount->isChecked());
    const QStringList list = problems();
    m_problems->setText(list.join(u'\n'));
    m_problems->setVisible(!list.isEmpty());
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(list.isEmpty());
}

void SettingsDialog::startProbe()
{
    delete m_probe;
    m_probe = nullptr;
    const QString host = m_host->text().trimmed();
    m_reachability->setStyleSheet(QString());
    if (host.isEmpty() || host.contains(u' ') || host.contains(u'/')) {
        m_reachability->clear();
        m_form->setRowVisible(m_reachability, false);
        return;
    }
    m_reachability->setText(tr("Checking %1:%2…").arg(host).arg(m_port->value()));
    m_form->setRowVisible(m_reachability, true);
    m_probe = new QTcpSocket(this);
    QTcpSocket *probe = m_probe;
    auto *timeout = new QTimer(probe);
    timeout->setSingleShot(true);
    auto verdict = [this, probe, host](bool ok, const QString &why) {
        if (probe != m_probe)
            return;
        m_reachability->setText(ok
                ? tr("The server answers.")
                : tr("The server %1 does not answer (%2); FileSync will keep trying.").arg(host, why));
        m_reachability->setStyleSheet(ok ? QStringLiteral("color: #2e9d4f") : QStringLiteral("color: #b36b00"));
        // One verdict per probe: whatever the socket or the timer says later is ignored.
        m_probe = nullptr;
        probe->abort();
        probe->deleteLater();
        Q_EMIT probed(ok);
    };
    connect(probe, &QTcpSocket::connected, this, [verdict] { verdict(true, QString()); });
    connect(probe, &QTcpSocket::errorOccurred, this, [verdict, probe] { verdict(false, probe->errorString()); });
    connect(timeout, &QTimer::timeout, this,
        [verdict, this] { verdict(false, tr("no answer in %1 s").arg(m_probeTimeoutMs / 1000)); });
    timeout->start(m_probeTimeoutMs);
    probe->connectToHost(host, quint16(m_port->value()));
}

} // namespace filesync
