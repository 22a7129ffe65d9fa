<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="en">
<context>
    <name>filesync::SyncEngine</name>
    <message numerus="yes">
        <location filename="../desktop/engine/syncengine.cpp" line="412" />
        <source>Syncing %n file(s), %1 left</source>
        <translation><numerusform>Syncing %n file, %1 left</numerusform><numerusform>Syncing %n files, %1 left</numerusform></translation>
    </message>
</context>
</TS>