#pragma once

#include "appsettings.h"

#include <QDialog>
#include <QTimer>

class QCheckBox;
class QDialogButtonBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QRadioButton;
class QSpinBox;
class QTcpSocket;

namespace filesync {

// Edits AppSettings: server host and port, folder (with a picker), account (create a
// new one, or use an existing ID; a known ID is shown read-only with a Copy button),
// rescan interval and autostart. Problems are shown inline and OK stays disabled until
// the input is valid; whether the server answers is probed in the background and shown
// as a warning (the user may set up while offline). GUI thread; owned by AppController.
class SettingsDialog : public QDialog
{
    Q_OBJECT
public:
    explicit SettingsDialog(const AppSettings &settings, bool autostart, QWidget *parent = nullptr);

    AppSettings settings() const;
    bool autostart() const;
    QStringList problems() const; // empty when the input is valid
    QString reachability() const; // the probe's last verdict, for display and tests
    void setProbeTimeoutMs(int ms) { m_probeTimeoutMs = ms; }

Q_SIGNALS:
    void probed(bool reachable);

private:
    void validate();
    void chooseFolder();
    void startProbe();

    AppSettings m_initial;
    QLineEdit *m_host;
    QSpinBox *m_port;
    QLineEdit *m_folder;
    QRadioButton *m_newAccount;
    QRadioButton *m_existingAccount;
    QLineEdit *m_accountEdit;
    QLineEdit *m_knownAccount;
    QPushButton *m_copy;
    QCheckBox *m_changeAccount;
    QSpinBox *m_interval;
    QCheckBox *m_autostart;
    QLabel *m_problems;
    QLabel *m_reachability;
    QFormLayout *m_form;
    QDialogButtonBox *m_buttons;
    QTimer m_probeDelay;
    QTcpSocket *m_probe = nullptr;
    int m_probeTimeoutMs = 3000;
};

} // namespace filesync
