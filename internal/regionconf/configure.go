package regionconf

// Configure applies settings to a region, with the code that
// dogpile.Region.ConfigureFromMap applies them with. Package dogpile sets it
// when it is initialized, to a
//
//	func(r *dogpile.Region, prefix string, s *Settings, args map[string]any,
//		after []dogpile.RegionOption, extra []dogpile.ConfigOption) (*dogpile.Region, error)
//
// prefix begins the keys in errors; after are region options applied after
// the settings' own (so they win), extra configuration options applied
// after the settings'.
//
// This package cannot name dogpile's types (dogpile imports it), and dogpile
// exports no such function: the settings are a configuration's business, not
// a region's API. Package config, which imports dogpile (so dogpile is
// initialized first), asserts the type once.
var Configure any
