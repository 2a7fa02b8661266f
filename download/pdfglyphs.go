package download

// moreGlyphs are the names the Adobe Glyph List gives to letters of Latin
// Extended-A, -B and Additional, Greek and Cyrillic, and to punctuation,
// currency and letterlike symbols: the names in the /Differences of fonts
// for those scripts (fpdf's code page fonts among them). Each is followed
// by its code point in hex. Source: the Adobe Glyph List,
// github.com/adobe-type-tools/agl-aglfn, BSD-3-Clause.
const moreGlyphs = `
Amacron 0100 amacron 0101 Abreve 0102 abreve 0103 Aogonek 0104 aogonek 0105 Cacute 0106
cacute 0107 Ccircumflex 0108 ccircumflex 0109 Cdot 010A Cdotaccent 010A cdot 010B
cdotaccent 010B Ccaron 010C ccaron 010D Dcaron 010E dcaron 010F Dcroat 0110 Dslash 0110
dcroat 0111 dmacron 0111 Emacron 0112 emacron 0113 Ebreve 0114 ebreve 0115 Edot 0116
Edotaccent 0116 edot 0117 edotaccent 0117 Eogonek 0118 eogonek 0119 Ecaron 011A ecaron 011B
Gcircumflex 011C gcircumflex 011D Gbreve 011E gbreve 011F Gdot 0120 Gdotaccent 0120
gdot 0121 gdotaccent 0121 Gcedilla 0122 Gcommaaccent 0122 gcedilla 0123 gcommaaccent 0123
Hcircumflex 0124 hcircumflex 0125 Hbar 0126 hbar 0127 Itilde 0128 itilde 0129 Imacron 012A
imacron 012B Ibreve 012C ibreve 012D Iogonek 012E iogonek 012F Idot 0130 Idotaccent 0130
dotlessi 0131 IJ 0132 ij 0133 Jcircumflex 0134 jcircumflex 0135 Kcedilla 0136 Kcommaaccent 0136
kcedilla 0137 kcommaaccent 0137 kgreenlandic 0138 Lacute 0139 lacute 013A Lcedilla 013B
Lcommaaccent 013B lcedilla 013C lcommaaccent 013C Lcaron 013D lcaron 013E Ldot 013F
Ldotaccent 013F ldot 0140 ldotaccent 0140 Lslash 0141 lslash 0142 Nacute 0143 nacute 0144
Ncedilla 0145 Ncommaaccent 0145 ncedilla 0146 ncommaaccent 0146 Ncaron 0147 ncaron 0148
napostrophe 0149 quoterightn 0149 Eng 014A eng 014B Omacron 014C omacron 014D Obreve 014E
obreve 014F Odblacute 0150 Ohungarumlaut 0150 odblacute 0151 ohungarumlaut 0151 OE 0152
oe 0153 Racute 0154 racute 0155 Rcedilla 0156 Rcommaaccent 0156 rcedilla 0157 rcommaaccent 0157
Rcaron 0158 rcaron 0159 Sacute 015A sacute 015B Scircumflex 015C scircumflex 015D
Scedilla 015E scedilla 015F Scaron 0160 scaron 0161 Tcedilla 0162 Tcommaaccent 0162
tcedilla 0163 tcommaaccent 0163 Tcaron 0164 tcaron 0165 Tbar 0166 tbar 0167 Utilde 0168
utilde 0169 Umacron 016A umacron 016B Ubreve 016C ubreve 016D Uring 016E uring 016F
Udblacute 0170 Uhungarumlaut 0170 udblacute 0171 uhungarumlaut 0171 Uogonek 0172 uogonek 0173
Wcircumflex 0174 wcircumflex 0175 Ycircumflex 0176 ycircumflex 0177 Ydieresis 0178
Zacute 0179 zacute 017A Zdot 017B Zdotaccent 017B zdot 017C zdotaccent 017C Zcaron 017D
zcaron 017E longs 017F slong 017F bstroke 0180 Bhook 0181 Btopbar 0182 btopbar 0183
Tonesix 0184 tonesix 0185 Oopen 0186 Chook 0187 chook 0188 Dafrican 0189 Dhook 018A
Dtopbar 018B dtopbar 018C deltaturned 018D Ereversed 018E Schwa 018F Eopen 0190 Fhook 0191
florin 0192 Ghook 0193 Gammaafrican 0194 hv 0195 Iotaafrican 0196 Istroke 0197 Khook 0198
khook 0199 lbar 019A lambdastroke 019B Mturned 019C Nhookleft 019D nlegrightlong 019E
Ocenteredtilde 019F Ohorn 01A0 ohorn 01A1 Oi 01A2 oi 01A3 Phook 01A4 phook 01A5 yr 01A6
Tonetwo 01A7 tonetwo 01A8 Esh 01A9 eshreversedloop 01AA tpalatalhook 01AB Thook 01AC
thook 01AD Tretroflexhook 01AE Uhorn 01AF uhorn 01B0 Upsilonafrican 01B1 Vhook 01B2
Yhook 01B3 yhook 01B4 Zstroke 01B5 zstroke 01B6 Ezh 01B7 Ezhreversed 01B8 ezhreversed 01B9
ezhtail 01BA twostroke 01BB Tonefive 01BC tonefive 01BD glottalinvertedstroke 01BE
wynn 01BF clickdental 01C0 clicklateral 01C1 clickalveolar 01C2 clickretroflex 01C3
DZcaron 01C4 Dzcaron 01C5 dzcaron 01C6 LJ 01C7 Lj 01C8 lj 01C9 NJ 01CA Nj 01CB nj 01CC
Acaron 01CD acaron 01CE Icaron 01CF icaron 01D0 Ocaron 01D1 ocaron 01D2 Ucaron 01D3
ucaron 01D4 Udieresismacron 01D5 udieresismacron 01D6 Udieresisacute 01D7 udieresisacute 01D8
Udieresiscaron 01D9 udieresiscaron 01DA Udieresisgrave 01DB udieresisgrave 01DC eturned 01DD
Adieresismacron 01DE adieresismacron 01DF Adotmacron 01E0 adotmacron 01E1 AEmacron 01E2
aemacron 01E3 Gstroke 01E4 gstroke 01E5 Gcaron 01E6 gcaron 01E7 Kcaron 01E8 kcaron 01E9
Oogonek 01EA oogonek 01EB Oogonekmacron 01EC oogonekmacron 01ED Ezhcaron 01EE ezhcaron 01EF
jcaron 01F0 DZ 01F1 Dz 01F2 dz 01F3 Gacute 01F4 gacute 01F5 Aringacute 01FA aringacute 01FB
AEacute 01FC aeacute 01FD Oslashacute 01FE Ostrokeacute 01FE oslashacute 01FF ostrokeacute 01FF
Adblgrave 0200 adblgrave 0201 Ainvertedbreve 0202 ainvertedbreve 0203 Edblgrave 0204
edblgrave 0205 Einvertedbreve 0206 einvertedbreve 0207 Idblgrave 0208 idblgrave 0209
Iinvertedbreve 020A iinvertedbreve 020B Odblgrave 020C odblgrave 020D Oinvertedbreve 020E
oinvertedbreve 020F Rdblgrave 0210 rdblgrave 0211 Rinvertedbreve 0212 rinvertedbreve 0213
Udblgrave 0214 udblgrave 0215 Uinvertedbreve 0216 uinvertedbreve 0217 Scommaaccent 0218
scommaaccent 0219 numeralsigngreek 0374 numeralsignlowergreek 0375 ypogegrammeni 037A
questiongreek 037E tonos 0384 dialytikatonos 0385 dieresistonos 0385 Alphatonos 0386
anoteleia 0387 Epsilontonos 0388 Etatonos 0389 Iotatonos 038A Omicrontonos 038C Upsilontonos 038E
Omegatonos 038F iotadieresistonos 0390 Alpha 0391 Beta 0392 Gamma 0393 Deltagreek 0394
Epsilon 0395 Zeta 0396 Eta 0397 Theta 0398 Iota 0399 Kappa 039A Lambda 039B Mu 039C
Nu 039D Xi 039E Omicron 039F Pi 03A0 Rho 03A1 Sigma 03A3 Tau 03A4 Upsilon 03A5 Phi 03A6
Chi 03A7 Psi 03A8 Omegagreek 03A9 Iotadieresis 03AA Upsilondieresis 03AB alphatonos 03AC
epsilontonos 03AD etatonos 03AE iotatonos 03AF upsilondieresistonos 03B0 alpha 03B1
beta 03B2 gamma 03B3 delta 03B4 epsilon 03B5 zeta 03B6 eta 03B7 theta 03B8 iota 03B9
kappa 03BA lambda 03BB mugreek 03BC nu 03BD xi 03BE omicron 03BF pi 03C0 rho 03C1
sigma1 03C2 sigmafinal 03C2 sigma 03C3 tau 03C4 upsilon 03C5 phi 03C6 chi 03C7 psi 03C8
omega 03C9 iotadieresis 03CA upsilondieresis 03CB omicrontonos 03CC upsilontonos 03CD
omegatonos 03CE betasymbolgreek 03D0 theta1 03D1 thetasymbolgreek 03D1 Upsilon1 03D2
Upsilonhooksymbol 03D2 Upsilonacutehooksymbolgreek 03D3 Upsilondieresishooksymbolgreek 03D4
phi1 03D5 phisymbolgreek 03D5 omega1 03D6 pisymbolgreek 03D6 Stigmagreek 03DA Digammagreek 03DC
Koppagreek 03DE Sampigreek 03E0 Sheicoptic 03E2 sheicoptic 03E3 Feicoptic 03E4 feicoptic 03E5
Kheicoptic 03E6 kheicoptic 03E7 Horicoptic 03E8 horicoptic 03E9 Gangiacoptic 03EA
gangiacoptic 03EB Shimacoptic 03EC shimacoptic 03ED Deicoptic 03EE deicoptic 03EF
kappasymbolgreek 03F0 rhosymbolgreek 03F1 sigmalunatesymbolgreek 03F2 yotgreek 03F3
Iocyrillic 0401 afii10023 0401 Djecyrillic 0402 afii10051 0402 Gjecyrillic 0403 afii10052 0403
Ecyrillic 0404 afii10053 0404 Dzecyrillic 0405 afii10054 0405 Icyrillic 0406 afii10055 0406
Yicyrillic 0407 afii10056 0407 Jecyrillic 0408 afii10057 0408 Ljecyrillic 0409 afii10058 0409
Njecyrillic 040A afii10059 040A Tshecyrillic 040B afii10060 040B Kjecyrillic 040C
afii10061 040C Ushortcyrillic 040E afii10062 040E Dzhecyrillic 040F afii10145 040F
Acyrillic 0410 afii10017 0410 Becyrillic 0411 afii10018 0411 Vecyrillic 0412 afii10019 0412
Gecyrillic 0413 afii10020 0413 Decyrillic 0414 afii10021 0414 Iecyrillic 0415 afii10022 0415
Zhecyrillic 0416 afii10024 0416 Zecyrillic 0417 afii10025 0417 Iicyrillic 0418 afii10026 0418
Iishortcyrillic 0419 afii10027 0419 Kacyrillic 041A afii10028 041A Elcyrillic 041B
afii10029 041B Emcyrillic 041C afii10030 041C Encyrillic 041D afii10031 041D Ocyrillic 041E
afii10032 041E Pecyrillic 041F afii10033 041F Ercyrillic 0420 afii10034 0420 Escyrillic 0421
afii10035 0421 Tecyrillic 0422 afii10036 0422 Ucyrillic 0423 afii10037 0423 Efcyrillic 0424
afii10038 0424 Khacyrillic 0425 afii10039 0425 Tsecyrillic 0426 afii10040 0426 Checyrillic 0427
afii10041 0427 Shacyrillic 0428 afii10042 0428 Shchacyrillic 0429 afii10043 0429 Hardsigncyrillic 042A
afii10044 042A Yericyrillic 042B afii10045 042B Softsigncyrillic 042C afii10046 042C
Ereversedcyrillic 042D afii10047 042D IUcyrillic 042E afii10048 042E IAcyrillic 042F
afii10049 042F acyrillic 0430 afii10065 0430 afii10066 0431 becyrillic 0431 afii10067 0432
vecyrillic 0432 afii10068 0433 gecyrillic 0433 afii10069 0434 decyrillic 0434 afii10070 0435
iecyrillic 0435 afii10072 0436 zhecyrillic 0436 afii10073 0437 zecyrillic 0437 afii10074 0438
iicyrillic 0438 afii10075 0439 iishortcyrillic 0439 afii10076 043A kacyrillic 043A
afii10077 043B elcyrillic 043B afii10078 043C emcyrillic 043C afii10079 043D encyrillic 043D
afii10080 043E ocyrillic 043E afii10081 043F pecyrillic 043F afii10082 0440 ercyrillic 0440
afii10083 0441 escyrillic 0441 afii10084 0442 tecyrillic 0442 afii10085 0443 ucyrillic 0443
afii10086 0444 efcyrillic 0444 afii10087 0445 khacyrillic 0445 afii10088 0446 tsecyrillic 0446
afii10089 0447 checyrillic 0447 afii10090 0448 shacyrillic 0448 afii10091 0449 shchacyrillic 0449
afii10092 044A hardsigncyrillic 044A afii10093 044B yericyrillic 044B afii10094 044C
softsigncyrillic 044C afii10095 044D ereversedcyrillic 044D afii10096 044E iucyrillic 044E
afii10097 044F iacyrillic 044F afii10071 0451 iocyrillic 0451 afii10099 0452 djecyrillic 0452
afii10100 0453 gjecyrillic 0453 afii10101 0454 ecyrillic 0454 afii10102 0455 dzecyrillic 0455
afii10103 0456 icyrillic 0456 afii10104 0457 yicyrillic 0457 afii10105 0458 jecyrillic 0458
afii10106 0459 ljecyrillic 0459 afii10107 045A njecyrillic 045A afii10108 045B tshecyrillic 045B
afii10109 045C kjecyrillic 045C afii10110 045E ushortcyrillic 045E afii10193 045F
dzhecyrillic 045F Omegacyrillic 0460 omegacyrillic 0461 Yatcyrillic 0462 afii10146 0462
afii10194 0463 yatcyrillic 0463 Eiotifiedcyrillic 0464 eiotifiedcyrillic 0465 Yuslittlecyrillic 0466
yuslittlecyrillic 0467 Yuslittleiotifiedcyrillic 0468 yuslittleiotifiedcyrillic 0469
Yusbigcyrillic 046A yusbigcyrillic 046B Yusbigiotifiedcyrillic 046C yusbigiotifiedcyrillic 046D
Ksicyrillic 046E ksicyrillic 046F Psicyrillic 0470 psicyrillic 0471 Fitacyrillic 0472
afii10147 0472 afii10195 0473 fitacyrillic 0473 Izhitsacyrillic 0474 afii10148 0474
afii10196 0475 izhitsacyrillic 0475 Izhitsadblgravecyrillic 0476 izhitsadblgravecyrillic 0477
Ukcyrillic 0478 ukcyrillic 0479 Omegaroundcyrillic 047A omegaroundcyrillic 047B Omegatitlocyrillic 047C
omegatitlocyrillic 047D Otcyrillic 047E otcyrillic 047F Koppacyrillic 0480 koppacyrillic 0481
thousandcyrillic 0482 titlocyrilliccmb 0483 palatalizationcyrilliccmb 0484 dasiapneumatacyrilliccmb 0485
psilipneumatacyrilliccmb 0486 Gheupturncyrillic 0490 afii10050 0490 afii10098 0491
gheupturncyrillic 0491 Ghestrokecyrillic 0492 ghestrokecyrillic 0493 Ghemiddlehookcyrillic 0494
ghemiddlehookcyrillic 0495 Zhedescendercyrillic 0496 zhedescendercyrillic 0497 Zedescendercyrillic 0498
zedescendercyrillic 0499 Kadescendercyrillic 049A kadescendercyrillic 049B Kaverticalstrokecyrillic 049C
kaverticalstrokecyrillic 049D Kastrokecyrillic 049E kastrokecyrillic 049F Kabashkircyrillic 04A0
kabashkircyrillic 04A1 Endescendercyrillic 04A2 endescendercyrillic 04A3 Enghecyrillic 04A4
enghecyrillic 04A5 Pemiddlehookcyrillic 04A6 pemiddlehookcyrillic 04A7 Haabkhasiancyrillic 04A8
haabkhasiancyrillic 04A9 Esdescendercyrillic 04AA esdescendercyrillic 04AB Tedescendercyrillic 04AC
tedescendercyrillic 04AD Ustraightcyrillic 04AE ustraightcyrillic 04AF Ustraightstrokecyrillic 04B0
ustraightstrokecyrillic 04B1 Hadescendercyrillic 04B2 hadescendercyrillic 04B3 Tetsecyrillic 04B4
tetsecyrillic 04B5 Chedescendercyrillic 04B6 chedescendercyrillic 04B7 Cheverticalstrokecyrillic 04B8
cheverticalstrokecyrillic 04B9 Shhacyrillic 04BA shhacyrillic 04BB Cheabkhasiancyrillic 04BC
cheabkhasiancyrillic 04BD Chedescenderabkhasiancyrillic 04BE chedescenderabkhasiancyrillic 04BF
palochkacyrillic 04C0 Zhebrevecyrillic 04C1 zhebrevecyrillic 04C2 Kahookcyrillic 04C3
kahookcyrillic 04C4 Enhookcyrillic 04C7 enhookcyrillic 04C8 Chekhakassiancyrillic 04CB
chekhakassiancyrillic 04CC Abrevecyrillic 04D0 abrevecyrillic 04D1 Adieresiscyrillic 04D2
adieresiscyrillic 04D3 Aiecyrillic 04D4 aiecyrillic 04D5 Iebrevecyrillic 04D6 iebrevecyrillic 04D7
Schwacyrillic 04D8 afii10846 04D9 schwacyrillic 04D9 Schwadieresiscyrillic 04DA schwadieresiscyrillic 04DB
Zhedieresiscyrillic 04DC zhedieresiscyrillic 04DD Zedieresiscyrillic 04DE zedieresiscyrillic 04DF
Dzeabkhasiancyrillic 04E0 dzeabkhasiancyrillic 04E1 Imacroncyrillic 04E2 imacroncyrillic 04E3
Idieresiscyrillic 04E4 idieresiscyrillic 04E5 Odieresiscyrillic 04E6 odieresiscyrillic 04E7
Obarredcyrillic 04E8 obarredcyrillic 04E9 Obarreddieresiscyrillic 04EA obarreddieresiscyrillic 04EB
Umacroncyrillic 04EE umacroncyrillic 04EF Udieresiscyrillic 04F0 udieresiscyrillic 04F1
Uhungarumlautcyrillic 04F2 uhungarumlautcyrillic 04F3 Chedieresiscyrillic 04F4 chedieresiscyrillic 04F5
Yerudieresiscyrillic 04F8 yerudieresiscyrillic 04F9 Aringbelow 1E00 aringbelow 1E01
Bdotaccent 1E02 bdotaccent 1E03 Bdotbelow 1E04 bdotbelow 1E05 Blinebelow 1E06 blinebelow 1E07
Ccedillaacute 1E08 ccedillaacute 1E09 Ddotaccent 1E0A ddotaccent 1E0B Ddotbelow 1E0C
ddotbelow 1E0D Dlinebelow 1E0E dlinebelow 1E0F Dcedilla 1E10 dcedilla 1E11 Dcircumflexbelow 1E12
dcircumflexbelow 1E13 Emacrongrave 1E14 emacrongrave 1E15 Emacronacute 1E16 emacronacute 1E17
Ecircumflexbelow 1E18 ecircumflexbelow 1E19 Etildebelow 1E1A etildebelow 1E1B Ecedillabreve 1E1C
ecedillabreve 1E1D Fdotaccent 1E1E fdotaccent 1E1F Gmacron 1E20 gmacron 1E21 Hdotaccent 1E22
hdotaccent 1E23 Hdotbelow 1E24 hdotbelow 1E25 Hdieresis 1E26 hdieresis 1E27 Hcedilla 1E28
hcedilla 1E29 Hbrevebelow 1E2A hbrevebelow 1E2B Itildebelow 1E2C itildebelow 1E2D
Idieresisacute 1E2E idieresisacute 1E2F Kacute 1E30 kacute 1E31 Kdotbelow 1E32 kdotbelow 1E33
Klinebelow 1E34 klinebelow 1E35 Ldotbelow 1E36 ldotbelow 1E37 Ldotbelowmacron 1E38
ldotbelowmacron 1E39 Llinebelow 1E3A llinebelow 1E3B Lcircumflexbelow 1E3C lcircumflexbelow 1E3D
Macute 1E3E macute 1E3F Mdotaccent 1E40 mdotaccent 1E41 Mdotbelow 1E42 mdotbelow 1E43
Ndotaccent 1E44 ndotaccent 1E45 Ndotbelow 1E46 ndotbelow 1E47 Nlinebelow 1E48 nlinebelow 1E49
Ncircumflexbelow 1E4A ncircumflexbelow 1E4B Otildeacute 1E4C otildeacute 1E4D Otildedieresis 1E4E
otildedieresis 1E4F Omacrongrave 1E50 omacrongrave 1E51 Omacronacute 1E52 omacronacute 1E53
Pacute 1E54 pacute 1E55 Pdotaccent 1E56 pdotaccent 1E57 Rdotaccent 1E58 rdotaccent 1E59
Rdotbelow 1E5A rdotbelow 1E5B Rdotbelowmacron 1E5C rdotbelowmacron 1E5D Rlinebelow 1E5E
rlinebelow 1E5F Sdotaccent 1E60 sdotaccent 1E61 Sdotbelow 1E62 sdotbelow 1E63 Sacutedotaccent 1E64
sacutedotaccent 1E65 Scarondotaccent 1E66 scarondotaccent 1E67 Sdotbelowdotaccent 1E68
sdotbelowdotaccent 1E69 Tdotaccent 1E6A tdotaccent 1E6B Tdotbelow 1E6C tdotbelow 1E6D
Tlinebelow 1E6E tlinebelow 1E6F Tcircumflexbelow 1E70 tcircumflexbelow 1E71 Udieresisbelow 1E72
udieresisbelow 1E73 Utildebelow 1E74 utildebelow 1E75 Ucircumflexbelow 1E76 ucircumflexbelow 1E77
Utildeacute 1E78 utildeacute 1E79 Umacrondieresis 1E7A umacrondieresis 1E7B Vtilde 1E7C
vtilde 1E7D Vdotbelow 1E7E vdotbelow 1E7F Wgrave 1E80 wgrave 1E81 Wacute 1E82 wacute 1E83
Wdieresis 1E84 wdieresis 1E85 Wdotaccent 1E86 wdotaccent 1E87 Wdotbelow 1E88 wdotbelow 1E89
Xdotaccent 1E8A xdotaccent 1E8B Xdieresis 1E8C xdieresis 1E8D Ydotaccent 1E8E ydotaccent 1E8F
Zcircumflex 1E90 zcircumflex 1E91 Zdotbelow 1E92 zdotbelow 1E93 Zlinebelow 1E94 zlinebelow 1E95
hlinebelow 1E96 tdieresis 1E97 wring 1E98 yring 1E99 arighthalfring 1E9A slongdotaccent 1E9B
Adotbelow 1EA0 adotbelow 1EA1 Ahookabove 1EA2 ahookabove 1EA3 Acircumflexacute 1EA4
acircumflexacute 1EA5 Acircumflexgrave 1EA6 acircumflexgrave 1EA7 Acircumflexhookabove 1EA8
acircumflexhookabove 1EA9 Acircumflextilde 1EAA acircumflextilde 1EAB Acircumflexdotbelow 1EAC
acircumflexdotbelow 1EAD Abreveacute 1EAE abreveacute 1EAF Abrevegrave 1EB0 abrevegrave 1EB1
Abrevehookabove 1EB2 abrevehookabove 1EB3 Abrevetilde 1EB4 abrevetilde 1EB5 Abrevedotbelow 1EB6
abrevedotbelow 1EB7 Edotbelow 1EB8 edotbelow 1EB9 Ehookabove 1EBA ehookabove 1EBB
Etilde 1EBC etilde 1EBD Ecircumflexacute 1EBE ecircumflexacute 1EBF Ecircumflexgrave 1EC0
ecircumflexgrave 1EC1 Ecircumflexhookabove 1EC2 ecircumflexhookabove 1EC3 Ecircumflextilde 1EC4
ecircumflextilde 1EC5 Ecircumflexdotbelow 1EC6 ecircumflexdotbelow 1EC7 Ihookabove 1EC8
ihookabove 1EC9 Idotbelow 1ECA idotbelow 1ECB Odotbelow 1ECC odotbelow 1ECD Ohookabove 1ECE
ohookabove 1ECF Ocircumflexacute 1ED0 ocircumflexacute 1ED1 Ocircumflexgrave 1ED2
ocircumflexgrave 1ED3 Ocircumflexhookabove 1ED4 ocircumflexhookabove 1ED5 Ocircumflextilde 1ED6
ocircumflextilde 1ED7 Ocircumflexdotbelow 1ED8 ocircumflexdotbelow 1ED9 Ohornacute 1EDA
ohornacute 1EDB Ohorngrave 1EDC ohorngrave 1EDD Ohornhookabove 1EDE ohornhookabove 1EDF
Ohorntilde 1EE0 ohorntilde 1EE1 Ohorndotbelow 1EE2 ohorndotbelow 1EE3 Udotbelow 1EE4
udotbelow 1EE5 Uhookabove 1EE6 uhookabove 1EE7 Uhornacute 1EE8 uhornacute 1EE9 Uhorngrave 1EEA
uhorngrave 1EEB Uhornhookabove 1EEC uhornhookabove 1EED Uhorntilde 1EEE uhorntilde 1EEF
Uhorndotbelow 1EF0 uhorndotbelow 1EF1 Ygrave 1EF2 ygrave 1EF3 Ydotbelow 1EF4 ydotbelow 1EF5
Yhookabove 1EF6 yhookabove 1EF7 Ytilde 1EF8 ytilde 1EF9 enspace 2002 zerowidthspace 200B
afii61664 200C zerowidthnonjoiner 200C afii301 200D afii299 200E afii300 200F hyphentwo 2010
figuredash 2012 endash 2013 emdash 2014 afii00208 2015 horizontalbar 2015 dblverticalbar 2016
dbllowline 2017 underscoredbl 2017 quoteleft 2018 quoteright 2019 quotesinglbase 201A
quoteleftreversed 201B quotereversed 201B quotedblleft 201C quotedblright 201D quotedblbase 201E
dagger 2020 daggerdbl 2021 bullet 2022 onedotenleader 2024 twodotenleader 2025 twodotleader 2025
ellipsis 2026 afii61573 202C afii61574 202D afii61575 202E perthousand 2030 minute 2032
second 2033 primereversed 2035 guilsinglleft 2039 guilsinglright 203A referencemark 203B
exclamdbl 203C overline 203E asterism 2042 fraction 2044 colonmonetary 20A1 colonsign 20A1
cruzeiro 20A2 franc 20A3 afii08941 20A4 lira 20A4 peseta 20A7 won 20A9 afii57636 20AA
newsheqelsign 20AA sheqel 20AA sheqelhebrew 20AA dong 20AB Euro 20AC centigrade 2103
afii61248 2105 careof 2105 fahrenheit 2109 Ifraktur 2111 afii61289 2113 lsquare 2113
afii61352 2116 numero 2116 weierstrass 2118 Rfraktur 211C prescription 211E telephone 2121
trademark 2122 Ohm 2126 Omega 2126 angstrom 212B estimated 212E aleph 2135
`
