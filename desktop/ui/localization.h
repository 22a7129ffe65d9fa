#pragma once

#include <QLocale>
#include <QTranslator>

namespace filesync {

// Installs the app's translation (compiled into the binary under :/i18n) and Qt's own
// for a locale, normally the system's. A right-to-left translation (Hebrew) says "RTL"
// for QT_LAYOUT_DIRECTION, and Qt turns the whole layout around when it is installed.
// Removes both again on destruction. GUI thread; owned by runTrayApplication() or a test.
class Localization
{
public:
    Localization() = default;
    ~Localization();
    Localization(const Localization &) = delete;
    Localization &operator=(const Localization &) = delete;

    // True when FileSync has a translation for the locale (English has one: plurals only).
    bool install(const QLocale &locale = QLocale());
    void remove();

private:
    QTranslator m_qt;
    QTranslator m_app;
    bool m_qtInstalled = false;
    bool m_appInstalled = false;
};

} // namespace filesync
