#include "localization.h"

#include "uilogging.h"

#include <QCoreApplication>
#include <QLibraryInfo>

// Qt reads the layout direction from this translation; listing it here keeps it in the
// .ts files, where Hebrew says "RTL".
[[maybe_unused]] static const struct
{
    const char *source;
    const char *comment;
} kLayoutDirection = QT_TRANSLATE_NOOP3("QGuiApplication", "QT_LAYOUT_DIRECTION",
    "Translate this string to the string 'LTR' in left-to-right languages or to 'RTL' in right-to-left languages "
    "(such as Hebrew and Arabic) to get proper widget layout.");

namespace filesync {

Localization::~Localization()
{
    remove();
}

bool Localization::install(const QLocale &locale)
{
    remove();
    if (m_qt.load(
            locale, QStringLiteral("qtbase"), QStringLiteral("_"), QLibraryInfo::path(QLibraryInfo::TranslationsPath)))
        m_qtInstalled = QCoreApplication::installTranslator(&m_qt);
    const bool found = m_app.load(locale, QStringLiteral("filesync"), QStringLiteral("_"), QStringLiteral(":/i18n"));
    // Without a translation of its own, a language gets the English plural forms
    // ("1 file", "3 files"), which the English source texts leave as "file(s)".
    if (found || m_app.load(QStringLiteral(":/i18n/filesync_en.qm")))
        m_appInstalled = QCoreApplication::installTranslator(&m_app);
    qCDebug(lcUi) << "locale" << locale.name() << "translation" << (m_appInstalled ? m_app.filePath() : QString());
    return found;
}

void Localization::remove()
{
    if (m_appInstalled)
        QCoreApplication::removeTranslator(&m_app);
    if (m_qtInstalled)
        QCoreApplication::removeTranslator(&m_qt);
    m_appInstalled = m_qtInstalled = false;
}

} // namespace filesync
