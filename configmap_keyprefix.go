package dogpile

// keyPrefixOption is the region option of the key_prefix setting.
//
// WithKeyPrefix, the region option this setting stands for, is being added
// beside this change; until it is in, the setting is refused rather than
// ignored. When it is, the body is: return WithKeyPrefix(keyPrefix), nil.
func keyPrefixOption(prefix, keyPrefix string) (RegionOption, error) {
	return nil, &ArgError{Name: prefix + "key_prefix", Value: keyPrefix, Reason: "key prefixes are not supported by this build of dogpile"}
}
